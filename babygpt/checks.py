"""The behaviour that defines each stage, as checks of a module: a stage file, or a learner's exercise file.

One definition, two users: tests/test_stages.py calls these checks on the twelve stage files, and
babygpt_exercise.py calls the same checks on a learner's file. A check is a function check(module, n) of the
module and the stage number n (1 .. 12) it should be; it returns None, or a Words detail to show beside a
pass (for instance the difference from PyTorch's own attention), and raises CheckFailed, an AssertionError
whose message says in both languages what was expected and what was found, with a hint where a known mistake
explains the difference (the hints come from the wrong answers learners write; tests/mistakes/ keeps them).

Tiny models on the CPU with a fixed seed: every check takes well under a second. Importing this module reads
nothing and trains nothing.
"""

import argparse
import inspect
import math
import os
import types

import torch
import torch.nn.functional as F

TRAINING_NAMES = ["max_iters", "eval_interval", "eval_iters", "batch_size", "learning_rate"]
TINY_MODEL = {"block_size": 8, "n_embed": 16, "n_head": 2, "n_layer": 1, "dropout": 0.0}
VOCAB = 20

# Four Song ci, public domain: the short corpus of the training comparison (no download, never changes).
# 李煜《虞美人》, 苏轼《水调歌头》, 苏轼《念奴娇·赤壁怀古》, 李清照《声声慢》.
SONG_CI = """虞美人 李煜
春花秋月何时了，往事知多少。小楼昨夜又东风，故国不堪回首月明中。
雕栏玉砌应犹在，只是朱颜改。问君能有几多愁，恰似一江春水向东流。
水调歌头 苏轼
明月几时有，把酒问青天。不知天上宫阙，今夕是何年。我欲乘风归去，又恐琼楼玉宇，高处不胜寒。起舞弄清影，何似在人间。
转朱阁，低绮户，照无眠。不应有恨，何事长向别时圆。人有悲欢离合，月有阴晴圆缺，此事古难全。但愿人长久，千里共婵娟。
念奴娇 苏轼
大江东去，浪淘尽，千古风流人物。故垒西边，人道是，三国周郎赤壁。乱石穿空，惊涛拍岸，卷起千堆雪。江山如画，一时多少豪杰。
遥想公瑾当年，小乔初嫁了，雄姿英发。羽扇纶巾，谈笑间，樯橹灰飞烟灭。故国神游，多情应笑我，早生华发。人生如梦，一尊还酹江月。
声声慢 李清照
寻寻觅觅，冷冷清清，凄凄惨惨戚戚。乍暖还寒时候，最难将息。三杯两盏淡酒，怎敌他、晚来风急。雁过也，正伤心，却是旧时相识。
满地黄花堆积，憔悴损，如今有谁堪摘。守着窗儿，独自怎生得黑。梧桐更兼细雨，到黄昏、点点滴滴。这次第，怎一个愁字了得。
"""


class Words(dict):
    """One message in both languages: Words(en="...", zh="...")[lang]."""

    def __init__(self, en, zh):
        super().__init__(en=en, zh=zh)

    def __add__(self, other):
        return Words(self["en"] + other["en"], self["zh"] + other["zh"])


class CheckFailed(AssertionError):
    """A check's failure: what was expected and found (Words), and a hint (Words) when a known mistake fits."""

    def __init__(self, found, hint=None):
        self.found, self.hint = found, hint
        super().__init__(found["en"] + (f" Hint: {hint['en']}" if hint else ""))


def fail(en, zh, hint=None):
    raise CheckFailed(Words(en, zh), hint)


# ----------------------------------------------------------------------------
# Tiny models and inputs


def expected_model_names(n):
    names = ["block_size", "n_embed"]
    if n >= 4:
        names.append("n_head")  # multi-head attention
    if n >= 6:
        names.append("n_layer")  # stacked blocks
    if n >= 10:
        names.append("dropout")
    return names


def model_config(module, **overrides):
    """The tiny config, restricted to the options this module's model takes."""
    config = {**TINY_MODEL, **overrides}
    return {name: config[name] for name in module.MODEL_HYPERPARAMETERS if name in config}


def tiny_model(module, vocab_size=VOCAB, seed=0, **overrides):
    torch.manual_seed(seed)
    return module.BabyGPT(vocab_size, **model_config(module, **overrides))


def random_ids(B=2, T=8, vocab_size=VOCAB, seed=1):
    return torch.randint(vocab_size, (B, T), generator=torch.Generator().manual_seed(seed))


def expected_parameter_count(n, V, B, C, H, L):
    """Parameters of stage n for vocabulary V, block_size B, n_embed C, n_head H, n_layer L."""
    token_embedding = V * C
    embeddings = V * C + B * C  # v2+: token and position tables
    one_head = 3 * C * C  # v3: key, query, value, each C -> C, no bias
    heads = H * 3 * C * (C // H)  # v4+: H heads of head_size C/H, no bias
    proj = C * C + C  # v8+: linear after the concatenated heads
    small_ffwd = C * C + C  # v5-v7: Linear(C, C)
    wide_ffwd = (C * 4 * C + 4 * C) + (4 * C * C + C)  # v8+: Linear(C, 4C), Linear(4C, C)
    layer_norm = 2 * C  # weight and bias
    normed_block = heads + proj + wide_ffwd + 2 * layer_norm  # v9+: ln1, ln2 in each block
    lm_head = C * V + V
    return {
        1: token_embedding + lm_head,
        2: embeddings + lm_head,
        3: embeddings + one_head + lm_head,
        4: embeddings + heads + lm_head,
        5: embeddings + heads + small_ffwd + lm_head,
        6: embeddings + L * (heads + small_ffwd) + lm_head,
        7: embeddings + L * (heads + small_ffwd) + lm_head,
        8: embeddings + L * (heads + proj + wide_ffwd) + lm_head,
        9: embeddings + L * normed_block + layer_norm + lm_head,  # + ln_f
        10: embeddings + L * normed_block + layer_norm + lm_head,
        11: embeddings + L * normed_block + layer_norm + lm_head,
        12: embeddings + L * normed_block + layer_norm + lm_head,
    }[n]


def differs(a, b):
    """Clearly different, relative to the size of b: v6 stacks without residuals shrink logits to ~1e-7."""
    return not torch.allclose(a, b, rtol=0, atol=1e-5 * b.abs().max().item())


def without_output_bias(model):
    """The model with lm_head's bias zeroed: it is the same at every position and, since the output head keeps
    PyTorch's default init, it would dwarf the ~1e-7 logits of v6's stack (no residuals) that `differs` compares."""
    with torch.no_grad():
        model.lm_head.bias.zero_()
    return model


def modules_named(model, class_name):
    return [m for m in model.modules() if type(m).__name__ == class_name]


def record_outputs(modules):
    """Hook each module; the returned list gets (module, inputs, output) at each call."""
    calls = []
    for m in modules:
        m.register_forward_hook(lambda module, inputs, output: calls.append((module, inputs, output)) and None)
    return calls


def initial_loss_range(n, vocab_size):
    """Where a fresh model's loss must lie: about ln(vocab_size), a guess spread evenly over the vocabulary.
    From v9 on the final layer norm hands the output head vectors of unit size, and the head's PyTorch-default
    weights then give logits of spread about 0.58 and a loss about 0.58**2 / 2 = 0.17 higher."""
    low = math.log(vocab_size) - 0.05
    return (low, low + 0.15) if n < 9 else (low, low + 0.45)


def sharpen(model):
    """Draw the model's weights larger than its init (embeddings N(0, 1), linear weights N(0, 9 / in_features),
    biases 0), so that its attention is far from uniform: with GPT-2's small init every score is about 0, and a
    head without its 1/sqrt(head_size) would look right. Returns the model."""
    generator = torch.Generator().manual_seed(0)  # one stream: each layer draws weights of its own
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Embedding):
                module.weight.normal_(0, 1.0, generator=generator)
            elif isinstance(module, torch.nn.Linear):
                module.weight.normal_(0, 3.0 / module.in_features**0.5, generator=generator)
                if module.bias is not None:
                    module.bias.zero_()
    return model


def largest_difference(a, b):
    return (a - b).abs().max().item()


def shape_text(shape):
    return "(" + ", ".join(str(s) for s in shape) + ")"


# ----------------------------------------------------------------------------
# The checks


def hyperparameters(module, n):
    """The model's hyperparameters are exactly what the stage's idea needs, and the constructor takes them."""
    if list(module.TRAINING_HYPERPARAMETERS) != TRAINING_NAMES:
        fail(
            f"TRAINING_HYPERPARAMETERS: expected {TRAINING_NAMES}, found {list(module.TRAINING_HYPERPARAMETERS)}",
            f"TRAINING_HYPERPARAMETERS 应为 {TRAINING_NAMES}，实际是 {list(module.TRAINING_HYPERPARAMETERS)}",
        )
    expected, found = expected_model_names(n), list(module.MODEL_HYPERPARAMETERS)
    if found != expected:
        missing = [name for name in expected if name not in found]
        hint = None
        if missing:
            hint = Words(
                f"add {', '.join(missing)} to MODEL_HYPERPARAMETERS, with a default and a meaning",
                f"在 MODEL_HYPERPARAMETERS 里加上 {', '.join(missing)}，写明默认值和含义",
            )
        fail(
            f"MODEL_HYPERPARAMETERS: expected {expected}, found {found}",
            f"MODEL_HYPERPARAMETERS 应为 {expected}，实际是 {found}",
            hint,
        )
    if module.HYPERPARAMETERS != {**module.TRAINING_HYPERPARAMETERS, **module.MODEL_HYPERPARAMETERS}:
        fail("HYPERPARAMETERS is not the two tables together", "HYPERPARAMETERS 不等于两张表合起来")
    arguments = list(inspect.signature(module.BabyGPT).parameters)
    if arguments != ["vocab_size", *expected]:
        fail(
            f"BabyGPT's arguments: expected {['vocab_size', *expected]}, found {arguments}",
            f"BabyGPT 的参数应为 {['vocab_size', *expected]}，实际是 {arguments}",
            Words(
                "the constructor takes vocab_size, then the model hyperparameters in their order",
                "构造函数先接 vocab_size，再按顺序接模型超参数",
            ),
        )
    for name, (_, meaning) in module.HYPERPARAMETERS.items():
        if not str(meaning).strip():
            fail(f"{name} has no explanation", f"{name} 没有说明")


VIEW_HINT = Words(
    "targets.view(B*T) needs contiguous memory, and the targets are a slice of a batch: use targets.reshape(-1)"
    " or targets.flatten() (and logits.flatten(0, 1))",
    "targets.view(B*T) 要求内存连续，而 targets 是一批数据的切片：改用 targets.reshape(-1) 或 targets.flatten()"
    "（logits 用 logits.flatten(0, 1)）",
)


def error_hint(error):
    """A hint for an exception a learner's code raised, when a known mistake explains it; else None."""
    if isinstance(error, RuntimeError) and "view size is not compatible" in str(error):
        return VIEW_HINT
    return None


def shapes(module, n):
    """Token ids (B, T) in, logits (B, T, vocab_size) and a scalar loss out."""
    model = tiny_model(module)
    x = random_ids(B=3, T=5)
    attention = record_outputs(modules_named(model, "MultiHeadAttention"))
    try:
        logits, loss = model(x)
    except Exception:
        for _, _, out in attention:
            if tuple(out.shape) != (3, 5, TINY_MODEL["n_embed"]):
                fail(
                    f"MultiHeadAttention's output of shape (3, 5, {TINY_MODEL['n_embed']}) for 3 sequences of 5"
                    f" tokens, n_embed {TINY_MODEL['n_embed']}; found {shape_text(out.shape)}",
                    f"3 个序列、每个 5 个词元、n_embed 为 {TINY_MODEL['n_embed']} 时，MultiHeadAttention 的输出形状应为"
                    f" (3, 5, {TINY_MODEL['n_embed']})；实际是 {shape_text(out.shape)}",
                    Words(
                        "concatenate the heads' outputs along the last dimension: torch.cat(..., dim=-1)",
                        "沿最后一维拼接各头的输出：torch.cat(..., dim=-1)",
                    ),
                )
        raise
    if tuple(logits.shape) != (3, 5, VOCAB) or loss is not None:
        fail(
            f"logits of shape (3, 5, {VOCAB}) and no loss without targets; found {shape_text(logits.shape)}"
            f" and loss {loss!r}",
            f"没有目标时，logits 的形状应为 (3, 5, {VOCAB})，损失为 None；实际是 {shape_text(logits.shape)}，"
            f"损失为 {loss!r}",
        )
    targets = random_ids(B=3, T=6, seed=2)[:, 1:]  # a slice of a batch, as get_batch gives: not contiguous
    try:
        logits, loss = model(x, targets)
    except RuntimeError as e:
        if "view size is not compatible" not in str(e):
            raise
        fail(
            "with targets, a finite scalar loss; found .view() refusing the targets: they are a slice of a batch"
            " (y = windows[:, 1:], as get_batch gives), not contiguous in memory",
            "有目标时，损失应是一个有限的标量；实际 .view() 拒绝了 targets：它们是一批数据的切片"
            "（get_batch 给的 y = windows[:, 1:]），在内存里不连续",
            VIEW_HINT,
        )
    if loss is None or loss.shape != () or not torch.isfinite(loss):
        found = "None" if loss is None else f"shape {shape_text(loss.shape)}, value {loss.detach().flatten()[:3]}"
        fail(
            f"with targets, a finite scalar loss; found {found}",
            f"有目标时，损失应是一个有限的标量；实际是 {found}",
            Words(
                "the loss is F.cross_entropy(logits.flatten(0, 1), targets.flatten())",
                "损失是 F.cross_entropy(logits.flatten(0, 1), targets.flatten())",
            ),
        )


def initial_loss(module, n):
    """A fresh model guesses every character about equally: its loss is about ln(vocab_size)."""
    low, high = initial_loss_range(n, VOCAB)
    for seed in range(3):
        model = tiny_model(module, seed=seed)
        _, loss = model(random_ids(B=8, seed=seed), random_ids(B=8, seed=seed + 10))
        if not low < loss.item() < high:
            fail(
                f"a fresh model's loss between {low:.2f} and {high:.2f} (about ln {VOCAB} = {math.log(VOCAB):.2f});"
                f" found {loss.item():.3f} (seed {seed})",
                f"新模型的损失应在 {low:.2f} 到 {high:.2f} 之间（约为 ln {VOCAB} = {math.log(VOCAB):.2f}）；"
                f"实际是 {loss.item():.3f}（种子 {seed}）",
                Words(
                    "new layers start small: self.apply(self._init_weights) must come after every layer is made",
                    "新层的初始权重要小：self.apply(self._init_weights) 要放在所有层都建好之后",
                ),
            )
    return Words(
        f"{loss.item():.3f}, ln {VOCAB} = {math.log(VOCAB):.3f}",
        f"{loss.item():.3f}，ln {VOCAB} = {math.log(VOCAB):.3f}",
    )


def repeatable(model, x):
    """The model's logits for x, after checking that two forward passes in eval mode give the same: a random
    output (dropout left on) would make every comparison of two passes fail, for a reason other than the one
    the check names."""
    logits = model(x)[0]
    again = model(x)[0]
    if not torch.equal(logits, again):
        difference = largest_difference(logits, again)
        fail(
            f"in eval mode two forward passes of the same input give the same logits; found them different by up to"
            f" {difference:.2g}: the output is random in eval mode",
            f"在 eval 模式下，同一个输入两次前向传播的 logits 应相同；实际最多相差 {difference:.2g}："
            "eval 模式下输出是随机的",
            Words(
                "dropout left on? use nn.Dropout modules, which model.eval() switches off; F.dropout(x, p) is on"
                " unless given training=self.training",
                "dropout 没关？用 nn.Dropout 模块，model.eval() 会关掉它；F.dropout(x, p) 除非传入"
                " training=self.training，否则一直生效",
            ),
        )
    return logits


def causal(module, n):
    """Changing later characters never changes an earlier prediction."""
    model = sharpen(without_output_bias(tiny_model(module, n_layer=2).eval()))
    x = random_ids()
    logits = repeatable(model, x)
    for t in range(x.size(1) - 1):
        changed = x.clone()
        changed[:, t + 1 :] = (x[:, t + 1 :] + 1 + t) % VOCAB  # every token after t differs
        new_logits = model(changed)[0]
        if not torch.equal(new_logits[:, : t + 1], logits[:, : t + 1]):
            difference = largest_difference(new_logits[:, : t + 1], logits[:, : t + 1])
            earlier = ("position 0", "位置 0") if t == 0 else (f"positions 0 to {t}", f"位置 0 到 {t}")
            fail(
                f"changing the characters after position {t} leaves {earlier[0]} exactly as they were; found them"
                f" changed by up to {difference:.2g} (a causal model changes them by 0; any change above 1e-6 means"
                " the future leaks in): a position sees the future",
                f"改动位置 {t} 之后的字符，{earlier[1]} 的预测应完全不变；实际最多变了 {difference:.2g}"
                "（因果模型的变化是 0；任何超过 1e-6 的变化都说明未来漏了进来）：有位置看到了未来",
                Words(
                    "mask the scores of later characters with -inf before the softmax (tril[:T, :T] == 0)",
                    "在 softmax 之前用 -inf 遮住后面字符的分数（tril[:T, :T] == 0）",
                ),
            )
        if not differs(new_logits[:, t + 1 :], logits[:, t + 1 :]):
            fail(
                f"changing the characters after position {t} changes the predictions there; found them the same",
                f"改动位置 {t} 之后的字符，那些位置的预测应跟着变；实际没变",
            )


def earlier_tokens_reach_later(module, n):
    """From v3 on, the first character reaches every later prediction (through attention); before, none."""
    model = without_output_bias(tiny_model(module, n_layer=2).eval())
    x = random_ids()
    changed = x.clone()
    changed[:, 0] = (x[:, 0] + 1) % VOCAB
    logits, new_logits = repeatable(model, x), model(changed)[0]
    reached = [t for t in range(1, x.size(1)) if differs(new_logits[:, t], logits[:, t])]
    if n >= 3 and len(reached) < x.size(1) - 1:
        unreached = [t for t in range(1, x.size(1)) if t not in reached]
        fail(
            f"changing the first character changes the predictions at every later position; found positions"
            f" {unreached} unchanged",
            f"改动第一个字符，后面每个位置的预测都应改变；实际位置 {unreached} 没变",
            Words(
                "the attention must be called in forward(), between the embeddings and lm_head",
                "forward() 里要在嵌入和 lm_head 之间调用注意力",
            ),
        )
    if n < 3 and reached:
        fail(
            f"each position sees only its own character; found the first character changing positions {reached}",
            f"每个位置只看自己的字符；实际第一个字符改变了位置 {reached}",
        )


def position_matters(module, n):
    """From v2 on, the same character at different positions gets different predictions."""
    model = tiny_model(module).eval()
    logits = repeatable(model, torch.full((1, 8), 3))[0]  # (T, vocab)
    if n == 1:
        if not torch.equal(logits, logits[:1].expand_as(logits)):
            fail(
                "the bigram model knows nothing of position; found predictions that depend on it",
                "二元模型不知道位置；实际预测随位置变化",
            )
    elif not differs(logits[0], logits[1]):
        fail(
            "the same character at positions 0 and 1 gets different predictions; found the same",
            "同一个字符在位置 0 和 1 上的预测应不同；实际相同",
            Words(
                "no causal mask: position 0 sees the later characters, so every position averages over the same"
                " ones; mask the scores (see 'later characters never change earlier predictions' below)",
                "没有因果掩码：位置 0 看到了后面的字符，于是每个位置平均的都是同一批字符；请遮住分数"
                "（见下面的“后面的字符不改变前面的预测”）",
            )
            if n >= 3 and sees_the_future(model)
            else Words(
                "each position must get its own row of the position table: x = tok + pos, with"
                " pos = self.position_embedding_table(torch.arange(T))",
                "每个位置要取位置表里自己的那一行：x = tok + pos，其中"
                " pos = self.position_embedding_table(torch.arange(T))",
            ),
        )


def sees_the_future(model):
    """Whether changing the last character changes the first prediction (a model without its causal mask)."""
    x = random_ids()
    changed = x.clone()
    changed[:, 1:] = (x[:, 1:] + 1) % VOCAB
    return not torch.equal(model(x)[0][:, 0], model(changed)[0][:, 0])


def refuses_long_input(module, n):
    """From v2 on, forward() refuses more than block_size tokens with a ValueError naming block_size."""
    model = tiny_model(module)
    x = random_ids(T=TINY_MODEL["block_size"] + 5)
    if n == 1:
        logits = model(x)[0]
        if tuple(logits.shape) != (2, 13, VOCAB):
            fail(
                f"13 tokens give logits (2, 13, {VOCAB}); found {shape_text(logits.shape)}",
                f"13 个词元应得到形状 (2, 13, {VOCAB}) 的 logits；实际是 {shape_text(logits.shape)}",
            )
        return
    try:
        model(x)
    except ValueError as e:
        if "block_size" not in str(e):
            fail(
                f"a ValueError that names block_size; found {str(e)!r}",
                f"应抛出提到 block_size 的 ValueError；实际是 {str(e)!r}",
            )
        return
    except Exception as e:
        fail(
            f"13 tokens with block_size 8: a ValueError that names block_size; found {type(e).__name__}: {e}",
            f"block_size 为 8 时输入 13 个词元，应抛出提到 block_size 的 ValueError；实际是 {type(e).__name__}：{e}",
            Words(
                "check T > self.block_size at the start of forward() and raise ValueError",
                "在 forward() 开头检查 T > self.block_size，并抛出 ValueError",
            ),
        )
    fail(
        "13 tokens with block_size 8 are refused; found them accepted",
        "block_size 为 8 时，13 个词元应被拒绝；实际被接受了",
    )


def parameter_count(module, n):
    """The number of parameters the architecture has, for two different sizes."""
    for V, B, C, H, L in [(20, 8, 16, 2, 1), (7, 5, 24, 3, 2)]:
        torch.manual_seed(0)
        config = {"block_size": B, "n_embed": C, "n_head": H, "n_layer": L, "dropout": 0.1}
        model = module.BabyGPT(V, **{name: config[name] for name in module.MODEL_HYPERPARAMETERS if name in config})
        found = sum(p.numel() for p in model.parameters())
        expected = expected_parameter_count(n, V, B, C, H, L)
        if found != expected:
            sizes = f"vocab {V}, block_size {B}, n_embed {C}" + (f", n_head {H}" if n >= 4 else "")
            sizes += f", n_layer {L}" if n >= 6 else ""
            short = expected - found
            en = f"{'short' if short > 0 else 'too many'}: {abs(short):,}"
            zh = f"{'少了' if short > 0 else '多了'} {abs(short):,}"
            hint = parameter_hint(module, model, n, C, H, L, short)
            fail(
                f"{expected:,} parameters ({sizes}); found {found:,} ({en})",
                f"应有 {expected:,} 个参数（{sizes}）；实际是 {found:,}（{zh}）",
                hint,
            )
    return Words(f"{found:,}", f"{found:,}")


def parameter_hint(module, model, n, C, H, L, short):
    """A hint when the difference has a known cause."""
    heads = modules_named(model, "Head")
    if n >= 4 and heads and heads[0].key.out_features != C // H:
        size = heads[0].key.out_features
        return Words(
            f"each head has head_size {size}; with n_head heads it must be n_embed // n_head = {C // H}",
            f"每个头的 head_size 是 {size}；有 n_head 个头时应为 n_embed // n_head = {C // H}",
        )
    if n >= 9 and short > 0 and short % (2 * C) == 0:
        k = short // (2 * C)
        return Words(
            f"{k} LayerNorm(n_embed) short (2 x n_embed parameters each): ln1 and ln2 in each Block, ln_f at the end",
            f"少了 {k} 个 LayerNorm(n_embed)（每个 2 × n_embed 个参数）：每个 Block 里的 ln1、ln2，以及最后的 ln_f",
        )
    return None


def dropout(module, n):
    """From v10 on: dropout on each head's weights, after the projection and after the feed-forward, on in
    training only; before v10 none."""
    dropouts = [m for m in tiny_model(module, dropout=0.5).modules() if isinstance(m, torch.nn.Dropout)]
    if n < 10:
        if dropouts:
            fail(f"no dropout before v10; found {len(dropouts)}", f"v10 之前没有 dropout；实际有 {len(dropouts)} 个")
        return
    model = tiny_model(module, dropout=0.5, n_layer=2)
    x = random_ids()
    model.eval()
    if not torch.equal(model(x)[0], model(x)[0]):
        fail(
            "in eval mode (evaluation, sampling) two forward passes give the same logits; found them different:"
            " dropout stays on",
            "在 eval 模式（评估、采样）下，两次前向传播的 logits 应相同；实际不同：dropout 没有关掉",
            Words(
                "use nn.Dropout modules, which model.eval() switches off; F.dropout(x, p) is on unless given"
                " training=self.training",
                "用 nn.Dropout 模块，model.eval() 会把它关掉；F.dropout(x, p) 若不传 training=self.training 就一直开着",
            ),
        )
    model.train()
    if torch.equal(model(x)[0], model(x)[0]):
        fail(
            "in training mode dropout draws a new random mask each call; found the same logits twice",
            "训练模式下 dropout 每次都抽新的随机掩码；实际两次 logits 相同",
            Words(
                "pass the dropout probability on to each nn.Dropout and call them in forward()",
                "把 dropout 概率传给每个 nn.Dropout，并在 forward() 里调用它们",
            ),
        )
    dropouts = [m for m in model.modules() if isinstance(m, torch.nn.Dropout)]
    # per layer: one on each head's attention weights, one after the projection, one after the feed-forward
    expected = 2 * (TINY_MODEL["n_head"] + 2)
    if len(dropouts) != expected or not all(m.p == 0.5 for m in dropouts):
        fail(
            f"{expected} nn.Dropout(0.5) with 2 layers of 2 heads (one per head, one after the projection, one in the"
            f" feed-forward); found {len(dropouts)}, p = {sorted({m.p for m in dropouts})}",
            f"2 层、每层 2 个头时应有 {expected} 个 nn.Dropout(0.5)（每个头一个，投影后一个，前馈里一个）；"
            f"实际有 {len(dropouts)} 个，p = {sorted({m.p for m in dropouts})}",
        )
    calls = []
    for m in dropouts:
        m.register_forward_hook(lambda module, *_: calls.append(module))
    model(x)
    if len(calls) != len(dropouts) or set(map(id, calls)) != set(map(id, dropouts)):
        fail(
            f"each nn.Dropout used once per forward pass; found {len(calls)} calls of {len(dropouts)} modules",
            f"每个 nn.Dropout 在一次前向传播中用一次；实际 {len(dropouts)} 个模块被调用 {len(calls)} 次",
        )


def head_is_attention(module, n):
    """From v3 on, each head computes softmax(q k^T / sqrt(head_size)) over the past, times v: PyTorch's own
    scaled_dot_product_attention(q, k, v, is_causal=True) on the same q, k and v."""
    if n < 3:
        return None
    model = sharpen(tiny_model(module, n_layer=2).eval())  # larger weights: sharper attention, clearer differences
    heads = modules_named(model, "Head")
    if not heads:
        fail(
            "a module class named Head (one head of attention); found none",
            "应有一个名为 Head 的模块类（一个注意力头）；实际没有",
            Words(
                "write class Head(nn.Module) with key, query and value layers, and use it in the model",
                "写一个 class Head(nn.Module)，有键（key）、查询（query）、值（value）三个线性层，并在模型里用上它",
            ),
        )
    if n >= 4:  # several heads, each of size n_embed // n_head
        C, H = TINY_MODEL["n_embed"], TINY_MODEL["n_head"]
        expected = H * (2 if n >= 6 else 1)
        sizes = sorted({h.key.out_features for h in heads})
        if len(heads) != expected or sizes != [C // H]:
            fail(
                f"{expected} heads of head_size {C // H} (n_head {H}, n_embed {C}"
                f"{', 2 layers' if n >= 6 else ''}); found {len(heads)} of head_size {sizes}",
                f"应有 {expected} 个头，头维度都是 {C // H}（n_head {H}，n_embed {C}{'，2 层' if n >= 6 else ''}）；"
                f"实际有 {len(heads)} 个，头维度 {sizes}",
                Words(
                    "MultiHeadAttention makes n_head heads of head_size = n_embed // n_head",
                    "MultiHeadAttention 要建 n_head 个头，头维度 head_size = n_embed // n_head",
                ),
            )
    projections = {name: record_outputs([getattr(h, name) for h in heads]) for name in ("query", "key", "value")}
    outputs = record_outputs(heads)
    model(random_ids(T=5))  # T differs from head_size, so neither can stand in for the other
    if not outputs:
        fail(
            "the model calls its Head in forward(); found it never called",
            "模型应在 forward() 里调用 Head；实际从未调用",
            Words(
                "x = self.attention(x) between the embeddings and lm_head",
                "在嵌入和 lm_head 之间写 x = self.attention(x)",
            ),
        )
    worst = 0.0
    for i, (_, _, out) in enumerate(outputs):
        q, k, v = (projections[name][i][2] for name in ("query", "key", "value"))
        expected = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        if out.shape != expected.shape:
            fail(
                f"each head's output of shape {shape_text(expected.shape)}; found {shape_text(out.shape)}",
                f"每个头的输出形状应为 {shape_text(expected.shape)}；实际是 {shape_text(out.shape)}",
            )
        difference = largest_difference(out, expected) / expected.abs().max().item()
        if difference > 1e-5:
            fail(
                f"the head's output equal to softmax(q k^T / sqrt(head_size), causal) v; found a relative difference"
                f" of {difference:.3g} (at most 1e-5 allowed)",
                f"头的输出应等于 softmax(q k^T / sqrt(head_size)，因果掩码) v；"
                f"实际相对误差为 {difference:.3g}（最多允许 1e-5）",
                attention_hint(out, q, k, v),
            )
        worst = max(worst, difference)
    return Words(f"relative difference {worst:.1e}", f"相对误差 {worst:.1e}")


def attention_hint(out, q, k, v):
    """Which known mistake gives exactly this output, if one does."""
    T, head_size = q.size(-2), q.size(-1)
    scores = q @ k.transpose(-2, -1)
    mask = torch.tril(torch.ones(T, T)) == 0
    scale = head_size**-0.5
    candidates = [
        (
            F.softmax(scores * scale, dim=-1) @ v,
            Words(
                "no causal mask: mask the scores with tril before the softmax, so no character sees a later one",
                "没有因果掩码：softmax 之前用 tril 遮住分数，让每个字符都看不到后面的字符",
            ),
        ),
        (
            F.softmax(scores * scale, dim=-1).masked_fill(mask, 0) @ v,
            Words(
                "the mask is applied after the softmax: each row then sums to less than 1; mask the scores with"
                " -inf first, then take the softmax",
                "掩码放在了 softmax 之后：每行的权重加起来不到 1；应先用 -inf 遮住分数，再做 softmax",
            ),
        ),
        (
            F.softmax(scores.masked_fill(mask, float("-inf")), dim=-1) @ v,
            Words(
                "the scores are not scaled by 1/sqrt(head_size): multiply q @ k^T by k.size(-1) ** -0.5",
                "分数没有乘以 1/sqrt(head_size)：把 q @ k^T 乘以 k.size(-1) ** -0.5",
            ),
        ),
        (
            F.softmax((scores * scale).masked_fill(mask, float("-inf")), dim=-2).nan_to_num(0) @ v,
            Words(
                "the softmax is over the wrong dimension: each row (dim=-1) must sum to 1",
                "softmax 的维度不对：应让每一行（dim=-1）加起来为 1",
            ),
        ),
        (
            F.softmax(scores * scale, dim=-1).masked_fill(mask, float("-inf")) @ v,
            Words(
                "the mask is applied after the softmax: mask the scores with -inf first, then take the softmax",
                "掩码放在了 softmax 之后：应先用 -inf 遮住分数，再做 softmax",
            ),
        ),
    ]
    for candidate, hint in candidates:
        scale = candidate.nan_to_num(0).abs().max().item() + 1e-12
        if candidate.shape == out.shape and torch.allclose(
            candidate.nan_to_num(0), out.nan_to_num(0), atol=1e-5 * scale
        ):
            return hint
    if not torch.isfinite(out).all():
        return Words(
            "the output holds inf or NaN: a row whose scores are all -inf, or -inf left after the softmax",
            "输出里有 inf 或 NaN：某一行的分数全是 -inf，或 softmax 之后还留着 -inf",
        )
    return None


def residual_stream(module, n):
    """From v2 on, the first layer after the embeddings receives token + position embeddings; from v7 on each
    Block adds attention and feed-forward to its input: x + attention(...) + feed_forward(...)."""
    if n < 2:
        return
    model = tiny_model(module, n_layer=2).eval()
    if not hasattr(model, "position_embedding_table"):
        fail(
            "a position embedding table, self.position_embedding_table; found none",
            "应有一张位置嵌入表 self.position_embedding_table；实际没有",
            Words(
                "self.position_embedding_table = nn.Embedding(block_size, n_embed)",
                "self.position_embedding_table = nn.Embedding(block_size, n_embed)",
            ),
        )
    looked_up = []
    model.position_embedding_table.register_forward_pre_hook(lambda m, inputs: looked_up.append(inputs[0]))
    embeddings = record_outputs([model.token_embedding_table, model.position_embedding_table])
    first_input = []  # what the first module after the embeddings receives
    for name, child in model.named_children():
        if "embedding" not in name:
            child.register_forward_pre_hook(
                lambda m, inputs: first_input.append(inputs[0]) if not first_input else None
            )
    blocks = modules_named(model, "Block")
    block_calls = record_outputs(blocks)
    parts = record_outputs([m for block in blocks for m in (block.attention, block.feed_forward)])
    x = random_ids(T=5)
    try:
        model(x)
    except Exception:
        if looked_up and looked_up[0].shape == x.shape:
            raise CheckFailed(
                Words(
                    "the position table looked up with the positions 0 .. T-1; found it looked up with the token"
                    " ids, which run past block_size",
                    "位置表应该用位置 0 .. T-1 查；实际用的是词元编号，超出了 block_size",
                ),
                Words(
                    "positions = torch.arange(T, device=idx.device), then self.position_embedding_table(positions)",
                    "positions = torch.arange(T, device=idx.device)，再查 self.position_embedding_table(positions)",
                ),
            ) from None
        raise
    if looked_up and not torch.equal(looked_up[0].flatten()[: x.size(1)], torch.arange(x.size(1))):
        fail(
            f"the position table looked up with the positions 0 .. T-1; found it looked up with"
            f" {looked_up[0].flatten()[:5].tolist()}...",
            f"位置表应该用位置 0 .. T-1 查；实际用的是 {looked_up[0].flatten()[:5].tolist()}……",
            Words(
                "look the positions up with torch.arange(T), not with the token ids idx",
                "用 torch.arange(T) 查位置，不要用词元编号 idx",
            ),
        )
    if len(embeddings) < 2:
        fail(
            "forward() looks up both the token and the position embedding; found one of them unused",
            "forward() 应同时查词元嵌入和位置嵌入；实际有一个没用上",
            Words(
                "x = self.token_embedding_table(idx) + self.position_embedding_table(positions)",
                "x = self.token_embedding_table(idx) + self.position_embedding_table(positions)",
            ),
        )
    outputs = {id(m): out for m, _, out in embeddings}
    tokens, positions = outputs[id(model.token_embedding_table)], outputs[id(model.position_embedding_table)]
    if not torch.equal(first_input[0], tokens + positions):
        hint = None
        if torch.equal(first_input[0], tokens):
            hint = Words(
                "the position embedding is looked up but never added: x = tok + pos",
                "位置嵌入查了却没有加上：x = tok + pos",
            )
        fail(
            "the first layer receives token + position embeddings; found something else",
            "第一层收到的应是词元嵌入加位置嵌入；实际不是",
            hint,
        )
    if n < 7:  # residual connections come in v7
        return
    for i, (_, (x,), out) in enumerate(block_calls):  # x + attention(...) + feed_forward(...)
        attention_out, feed_forward_out = parts[2 * i][2], parts[2 * i + 1][2]
        expected = x + attention_out + feed_forward_out
        difference = largest_difference(out, expected)
        if difference > 1e-6:
            hint = None
            if torch.allclose(out, x + feed_forward_out, atol=1e-6):
                hint = Words(
                    "one residual around the whole Block (x + feed_forward(attention(x))): each sublayer gets its own,"
                    " x = x + self.attention(x), then x = x + self.feed_forward(x)",
                    "残差包住了整个 Block（x + feed_forward(attention(x))）：每个子层各有一个，先 x = x + "
                    "self.attention(x)，再 x = x + self.feed_forward(x)",
                )
            fail(
                "each Block adds each sublayer's output to the stream (x = x + attention(x), then x = x +"
                f" feed_forward(x)); found a difference of {difference:.3g}",
                "每个 Block 都把每个子层的输出加回残差流（先 x = x + attention(x)，再 x = x + feed_forward(x)）；"
                f"实际相差 {difference:.3g}",
                hint,
            )


def pre_norm(module, n):
    """From v9 on each sublayer reads a layer-normed copy of the stream (pre-norm): attention(ln1(x)),
    feed_forward(ln2(x)); and the final ln_f comes before lm_head."""
    if n < 9:
        return
    model = tiny_model(module, n_layer=2).eval()
    blocks = modules_named(model, "Block")
    for name in ("ln1", "ln2"):
        if not all(isinstance(getattr(b, name, None), torch.nn.LayerNorm) for b in blocks):
            fail(
                f"each Block has a LayerNorm {name}; found none",
                f"每个 Block 都应有 LayerNorm {name}；实际没有",
                Words(
                    "self.ln1 = nn.LayerNorm(n_embed) and self.ln2 = nn.LayerNorm(n_embed) in Block.__init__",
                    "在 Block.__init__ 里写 self.ln1 = nn.LayerNorm(n_embed) 和 self.ln2 = nn.LayerNorm(n_embed)",
                ),
            )
    if not isinstance(getattr(model, "ln_f", None), torch.nn.LayerNorm):
        fail(
            "a final LayerNorm, self.ln_f; found none",
            "应有最后的 LayerNorm self.ln_f；实际没有",
            Words(
                "self.ln_f = nn.LayerNorm(n_embed), and x = self.ln_f(x) just before lm_head",
                "写 self.ln_f = nn.LayerNorm(n_embed)，并在 lm_head 之前写 x = self.ln_f(x)",
            ),
        )
    block = blocks[0]
    calls = record_outputs([block, block.ln1, block.ln2, block.attention, block.feed_forward])
    head_input = []
    model.lm_head.register_forward_pre_hook(lambda m, inputs: head_input.append(inputs[0]))
    final = record_outputs([model.ln_f])
    model(random_ids(T=5))
    seen = {
        type(m).__name__ if m is block else next(k for k, v in block.named_children() if v is m): (i, o)
        for m, i, o in calls
    }
    x = seen["Block"][0][0]
    post_norm = Words(
        "post-norm: the norm comes after the sum (ln(x + attention(x))); GPT-2 norms before each sublayer:"
        " x = x + self.attention(self.ln1(x))",
        "这是后置归一化（post-norm）：归一化放在了相加之后（ln(x + attention(x))）；GPT-2 在每个子层之前归一化："
        "x = x + self.attention(self.ln1(x))",
    )
    if "ln1" not in seen or not torch.equal(seen["ln1"][0][0], x):
        fail(
            "ln1 reads the Block's input x; found it reading something else (or never called)",
            "ln1 读的应是 Block 的输入 x；实际读的是别的（或从未调用）",
            post_norm,
        )
    if "attention" not in seen or not torch.equal(seen["attention"][0][0], seen["ln1"][1]):
        fail(
            "the attention reads ln1(x); found it reading something else",
            "注意力读的应是 ln1(x)；实际读的是别的",
            post_norm,
        )
    if "feed_forward" not in seen or "ln2" not in seen or not torch.equal(seen["feed_forward"][0][0], seen["ln2"][1]):
        fail(
            "the feed-forward reads ln2(x); found it reading something else",
            "前馈网络读的应是 ln2(x)；实际读的是别的",
            post_norm,
        )
    if not final or not torch.equal(head_input[0], final[0][2]):
        fail(
            "lm_head reads ln_f(x); found ln_f unused before it",
            "lm_head 读的应是 ln_f(x)；实际 lm_head 之前没有用 ln_f",
            Words(
                "x = self.ln_f(x) just before logits = self.lm_head(x)",
                "在 logits = self.lm_head(x) 之前写 x = self.ln_f(x)",
            ),
        )


def feed_forward_not_linear(module, n):
    """From v5 on the feed-forward is not one linear map (its ReLU)."""
    if n < 5:
        return
    model = tiny_model(module).eval()
    feed_forwards = modules_named(model, "FeedForward")
    if not feed_forwards:
        fail(
            "a module class named FeedForward; found none",
            "应有一个名为 FeedForward 的模块类；实际没有",
            Words(
                "write class FeedForward(nn.Module): nn.Sequential(nn.Linear(...), nn.ReLU())",
                "写一个 class FeedForward(nn.Module)：nn.Sequential(nn.Linear(...), nn.ReLU())",
            ),
        )
    x = torch.randn(2, 5, TINY_MODEL["n_embed"], generator=torch.Generator().manual_seed(0))
    for feed_forward in feed_forwards:
        # without its ReLU it would be one linear map (its biases start at 0, so f(-x) would be -f(x))
        if not differs(feed_forward(-x), -feed_forward(x)):
            fail(
                "the feed-forward is not linear: f(-x) differs from -f(x); found f(-x) = -f(x)",
                "前馈网络不是线性的：f(-x) 应不同于 -f(x)；实际 f(-x) = -f(x)",
                Words(
                    "a feed-forward without its non-linearity: add nn.ReLU() after the Linear",
                    "前馈网络缺了非线性：在 Linear 之后加上 nn.ReLU()",
                ),
            )


def initial_weights(module, n):
    """GPT-2's N(0, 0.02) for every embedding and linear layer but the output head; biases zero."""
    model = tiny_model(module, n_embed=64, vocab_size=200)
    inner = [
        m
        for m in model.modules()
        if isinstance(m, (torch.nn.Linear, torch.nn.Embedding)) and m is not getattr(model, "lm_head", None)
    ]
    for m in inner:
        std, mean = m.weight.std().item(), m.weight.mean().item()
        if not (abs(mean) < 0.005 and abs(std - 0.02) < 0.004):
            fail(
                f"weights drawn from N(0, 0.02); found {type(m).__name__} with mean {mean:.3f}, std {std:.3f}",
                f"权重应取自 N(0, 0.02)；实际 {type(m).__name__} 的均值 {mean:.3f}、标准差 {std:.3f}",
                Words(
                    "self.apply(self._init_weights) must come last in BabyGPT.__init__, after every layer is made",
                    "self.apply(self._init_weights) 要放在 BabyGPT.__init__ 的最后，所有层都建好之后",
                ),
            )
        if getattr(m, "bias", None) is not None and m.bias.any():
            fail("biases start at zero; found a non-zero bias", "偏置应从 0 开始；实际有非零偏置")


def mask_not_saved(module, n):
    """A checkpoint holds the learned parameters only: tril is a non-persistent buffer."""
    model = tiny_model(module)
    extra = sorted(set(model.state_dict()) - {name for name, _ in model.named_parameters()})
    if extra:
        fail(
            f"state_dict() holds parameters only; found also {extra}",
            f"state_dict() 里应只有参数；实际还有 {extra}",
            Words(
                'register the mask as a buffer that is not saved: register_buffer("tril", ..., persistent=False)',
                '把掩码矩阵注册成不随权重保存的缓冲区：register_buffer("tril", ..., persistent=False)',
            ),
        )


def every_parameter_learns(module, n):
    """Every parameter affects the loss: each gets a gradient."""
    model = tiny_model(module, n_layer=2)
    called = set()
    for m in model.modules():
        m.register_forward_pre_hook(lambda m, inputs: called.add(id(m)))
    _, loss = model(random_ids(B=4), random_ids(B=4, seed=2))
    loss.backward()
    unused = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    if unused:
        hint = None
        for name in unused:  # the layer that owns a parameter without gradient, if forward() never called it
            owner = name.rsplit(".", 1)[0] if "." in name else ""
            if owner and id(model.get_submodule(owner)) not in called:
                parent, _, attribute = owner.rpartition(".")
                where = type(model.get_submodule(parent)).__name__ if parent else type(model).__name__
                hint = Words(
                    f"self.{attribute} of {where} is made in __init__ but never called in forward()",
                    f"{where} 的 self.{attribute} 在 __init__ 里建了，却没有在 forward() 里调用",
                )
                break
        fail(
            f"every parameter gets a gradient; found none for {unused[:4]}{'...' if len(unused) > 4 else ''}",
            f"每个参数都应得到梯度；实际 {unused[:4]}{'……' if len(unused) > 4 else ''} 没有",
            hint,
        )


def tiny_data(module, text=SONG_CI):
    tokenizer = module.CharTokenizer("".join(sorted(set(text))))
    data = torch.tensor(tokenizer.encode(text))
    train_data, val_data = module.split_data(data, TINY_MODEL["block_size"])
    return tokenizer, train_data, val_data


def training_lowers_the_loss(module, n):
    """60 steps of training on a tiny corpus lower the train and val loss by more than 0.3."""
    tokenizer, train_data, val_data = tiny_data(module)
    model = tiny_model(module, vocab_size=tokenizer.vocab_size)
    hp = argparse.Namespace(
        max_iters=60, eval_interval=60, eval_iters=5, batch_size=8, learning_rate=1e-2, **model_config(module)
    )
    reports = []
    module.train(model, train_data, val_data, hp, reports.append)
    first, final = reports[0], reports[-1]
    if not final["train_loss"] < first["train_loss"] - 0.3:
        fail(
            f"60 steps lower the train loss by more than 0.3; found {first['train_loss']:.3f} -> "
            f"{final['train_loss']:.3f}",
            f"训练 60 步应让训练损失下降 0.3 以上；实际 {first['train_loss']:.3f} -> {final['train_loss']:.3f}",
        )
    return Words(
        f"{first['train_loss']:.2f} -> {final['train_loss']:.2f}",
        f"{first['train_loss']:.2f} -> {final['train_loss']:.2f}",
    )


def training_and_evaluation_modes(module, n):
    """Dropout (v10) must be on for every training step and off for every loss estimate and in sampling; the
    model is back in train mode after each, and sampling needs no gradient."""
    data = random_ids(B=1, T=400)[0]
    model = tiny_model(module, dropout=0.2)
    hp = argparse.Namespace(
        max_iters=6,
        eval_interval=3,
        eval_iters=2,
        batch_size=4,
        learning_rate=1e-2,
        **model_config(module, dropout=0.2),
    )
    calls = []  # (grad enabled, every module in train mode, every module in eval mode), one per forward
    model.register_forward_pre_hook(
        lambda m, _: calls.append(
            (torch.is_grad_enabled(), all(x.training for x in m.modules()), not any(x.training for x in m.modules()))
        )
    )
    model.train()
    module.train(model, data[:300], data[300:], hp, lambda metrics: None)
    if not all(train for grad, train, _ in calls if grad):
        fail(
            "every training step runs in train mode; found one with dropout off",
            "每个训练步都应在训练模式下运行；实际有一步关掉了 dropout",
        )
    if not all(evaluating for grad, _, evaluating in calls if not grad):
        fail(
            "every loss estimate runs in eval mode; found one with dropout on",
            "每次估计损失都应在 eval 模式下运行；实际有一次开着 dropout",
        )
    for training in (True, False):
        model.train(training)
        calls.clear()
        model.generate(random_ids(B=1, T=2), 5)
        if any(grad or train for grad, train, _ in calls) or any(m.training != training for m in model.modules()):
            fail(
                "generate() samples in eval mode without gradients and leaves the mode as it found it; found not",
                "`generate()` 应在 eval 模式下、不求梯度地采样，并在结束后恢复原来的模式；实际没有",
            )


def compute_budget(module, n):
    """v11: the defaults give a model for a GPU: the training FLOPs (6 x parameters in the blocks x tokens per step x
    steps, Kaplan et al. 2020) within the budget of our v11 (between half of it and all of it)."""
    if n != 11:
        return None
    budget = budget_of(stage_defaults(11))
    defaults = {name: default for name, (default, _) in module.HYPERPARAMETERS.items()}
    if defaults.get("n_embed", 1) % max(defaults.get("n_head", 1), 1):
        fail(
            f"n_embed divisible by n_head; found {defaults['n_embed']} and {defaults['n_head']}",
            f"n_embed 应能被 n_head 整除；实际是 {defaults['n_embed']} 和 {defaults['n_head']}",
        )
    found = budget_of(defaults)
    if not budget["flops"] / 2 <= found["flops"] <= budget["flops"]:
        fail(
            f"training FLOPs between {budget['flops'] / 2:.2g} and {budget['flops']:.2g}; found {found['flops']:.2g}"
            f" ({found['params'] / 1e6:.2f} M parameters in the blocks, {found['tokens']:,} tokens per step,"
            f" {defaults['max_iters']:,} steps)",
            f"训练的 FLOPs 应在 {budget['flops'] / 2:.2g} 到 {budget['flops']:.2g} 之间；实际是 {found['flops']:.2g}"
            f"（块里 {found['params'] / 1e6:.2f} M 个参数，每步 {found['tokens']:,} 个词元，"
            f"{defaults['max_iters']:,} 步）",
            Words(
                "FLOPs = 6 x parameters in the blocks x batch_size x block_size x max_iters; raise n_embed,"
                " n_layer, block_size or batch_size",
                "FLOPs = 6 × 块里的参数 × batch_size × block_size × max_iters；加大 n_embed、n_layer、block_size"
                " 或 batch_size",
            ),
        )
    return Words(
        f"{found['params'] / 1e6:.2f} M parameters in the blocks, {found['flops']:.2g} FLOPs",
        f"块里 {found['params'] / 1e6:.2f} M 个参数，{found['flops']:.2g} FLOPs",
    )


def records_the_run(module, n):
    """v12: main() writes checkpoint.pt, metrics.csv, samples.txt and loss_curve.png into --out_dir, and refuses
    to replace a trained model without --overwrite."""
    import contextlib
    import io
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        corpus = os.path.join(folder, "corpus.txt")
        with open(corpus, "w", encoding="utf-8") as f:
            f.write(SONG_CI)
        out_dir = os.path.join(folder, "run")
        argv = [f"--data={corpus}", "--device=cpu", "--max_new_tokens=5", "--prompt=春", f"--out_dir={out_dir}"]
        argv += ["--wandb_mode=disabled", "--max_iters=4", "--eval_interval=2", "--eval_iters=1", "--batch_size=4"]
        argv += [
            f"--{name}={value}"
            for name, value in {**TINY_MODEL, "dropout": 0.1}.items()
            if name in module.MODEL_HYPERPARAMETERS
        ]
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                module.main(argv)
        except SystemExit as e:
            fail(
                f"main() records the run with --out_dir and --wandb_mode disabled; found it stopping: {e.code}",
                f"main() 应能带着 --out_dir 和 --wandb_mode disabled 记录运行；实际它停下了：{e.code}",
                Words(
                    "add the options --out_dir, --overwrite, --wandb_mode and --wandb_project to make_parser()",
                    "在 make_parser() 里加上 --out_dir、--overwrite、--wandb_mode 和 --wandb_project",
                ),
            )
        names = ["checkpoint.pt", "metrics.csv", "samples.txt", "loss_curve.png"]
        missing = [name for name in names if not os.path.exists(os.path.join(out_dir, name))]
        if missing:
            fail(
                f"the run folder holds {', '.join(names)}; found {', '.join(missing)} missing",
                f"运行目录里应有 {', '.join(names)}；实际缺少 {', '.join(missing)}",
                Words(
                    "run(args, make_recorder=RunRecorder): every run is recorded",
                    "run(args, make_recorder=RunRecorder)：每次运行都要记录",
                ),
            )
        checkpoint = torch.load(os.path.join(out_dir, "checkpoint.pt"), weights_only=True)
        if checkpoint.get("step") != 4 or "model_state" not in checkpoint:
            fail(
                f"checkpoint.pt of step 4 with the model's weights; found step {checkpoint.get('step')}",
                f"checkpoint.pt 应是第 4 步的，含模型权重；实际是第 {checkpoint.get('step')} 步",
            )
        with open(os.path.join(out_dir, "metrics.csv"), encoding="utf-8") as f:
            steps = [line.split(",")[0] for line in f.read().splitlines()[1:]]
        if steps != ["0", "2", "4"]:
            fail(
                f"metrics.csv rows of steps 0, 2, 4; found {steps}",
                f"metrics.csv 应有第 0、2、4 步的行；实际是 {steps}",
            )
        before = os.path.getmtime(os.path.join(out_dir, "checkpoint.pt"))
        try:
            with contextlib.redirect_stdout(printed):
                module.main(argv)
        except SystemExit as e:
            if "--overwrite" not in str(e.code):
                fail(
                    f"a second run into the same folder refused with a word on --overwrite; found {e.code}",
                    f"第二次运行到同一文件夹时，应拒绝并提到 --overwrite；实际是 {e.code}",
                )
        else:
            fail(
                "a second run into the same folder is refused; found the trained model replaced",
                "第二次运行到同一文件夹时应被拒绝；实际训练好的模型被替换了",
            )
        if os.path.getmtime(os.path.join(out_dir, "checkpoint.pt")) != before:
            fail(
                "the refused run leaves checkpoint.pt as it was; found it rewritten",
                "被拒绝的运行不应改动 checkpoint.pt；实际它被重写了",
            )


def stage_defaults(n):
    """The defaults of our stage n, from its file."""
    return {name: default for name, (default, _) in load_stage(n).HYPERPARAMETERS.items()}


def stage_modules():
    """Stage id ("v3") -> module name, in reading order: the registry of babygpt/checkpoint.py."""
    from babygpt.checkpoint import STAGE_MODULES  # here: importing it imports v12

    return dict(STAGE_MODULES)


def load_stage(n):
    """Our stage n (1 .. 12), imported (importing a stage has no side effects)."""
    from babygpt.checkpoint import load_stage

    return load_stage(f"v{n}")


def budget_of(defaults):
    """Parameters in the blocks, tokens per step and training FLOPs of a run at these defaults."""
    C, L = defaults["n_embed"], defaults["n_layer"]
    params = L * (12 * C * C + 10 * C)  # per block: heads 3C^2, proj C^2+C, feed-forward 8C^2+5C, two norms 4C
    tokens = defaults["batch_size"] * defaults["block_size"]
    return {"params": params, "tokens": tokens, "flops": 6 * params * tokens * defaults["max_iters"]}


# ----------------------------------------------------------------------------
# Which checks define which stage


Check = types.SimpleNamespace
CHECKS = [
    Check(
        name="hyperparameters",
        run=hyperparameters,
        test="test_hyperparameters_are_exactly_what_the_stage_needs",
        words=Words("the hyperparameters the stage needs", "这一阶段需要的超参数"),
    ),
    Check(
        name="shapes",
        run=shapes,
        test="test_shapes",
        words=Words("logits (B, T, vocab_size) and a scalar loss", "logits 形状为 (B, T, vocab_size)，损失是标量"),
    ),
    Check(
        name="parameter_count",
        run=parameter_count,
        test="test_parameter_count_matches_the_architecture",
        words=Words("the parameter count of the architecture", "参数个数与结构相符"),
    ),
    Check(
        name="initial_loss",
        run=initial_loss,
        test="test_initial_loss_is_about_ln_vocab_size",
        words=Words("a fresh model's loss is about ln(vocab_size)", "新模型的损失约为 ln(vocab_size)"),
    ),
    Check(
        name="position_matters",
        since=2,
        run=position_matters,
        test="test_position_matters_from_v2_on",
        words=Words("position matters (from v2)", "位置有影响（从 v2 起）"),
    ),
    Check(
        name="refuses_long_input",
        since=2,
        run=refuses_long_input,
        test="test_forward_refuses_more_than_block_size_tokens_from_v2_on",
        words=Words("more than block_size tokens are refused (from v2)", "超过 block_size 的输入被拒绝（从 v2 起）"),
    ),
    Check(
        name="residual_stream",
        since=2,
        run=residual_stream,
        test="test_the_model_adds_position_to_token_embeddings_and_blocks_add_to_the_residual_stream",
        words=Words(
            "token + position embeddings; each Block adds to the stream (from v7)",
            "词元嵌入加位置嵌入；每个 Block 都加到残差流上（从 v7 起）",
        ),
        early=(7, Words("the first layer receives token + position embeddings", "第一层收到的是词元嵌入加位置嵌入")),
    ),
    Check(
        name="head_is_attention",
        since=3,
        run=head_is_attention,
        test="test_each_head_is_scaled_causal_dot_product_attention",
        words=Words(
            "each head is scaled causal dot-product attention (from v3)", "每个头都是缩放的因果点积注意力（从 v3 起）"
        ),
    ),
    Check(
        name="causal",
        run=causal,
        test="test_causal_later_tokens_never_change_earlier_logits",
        words=Words("later characters never change earlier predictions", "后面的字符不改变前面的预测"),
    ),
    Check(
        name="earlier_tokens_reach_later",
        since=1,
        run=earlier_tokens_reach_later,
        test="test_earlier_tokens_reach_later_logits_only_through_attention",
        early=(
            3,
            Words("each prediction sees only its own character (until v3)", "每个预测只看它自己的字符（v3 之前）"),
        ),
        words=Words(
            "the first character reaches every later prediction (from v3)", "第一个字符影响后面每个预测（从 v3 起）"
        ),
    ),
    Check(
        name="feed_forward_not_linear",
        since=5,
        run=feed_forward_not_linear,
        test="test_feed_forward_is_not_linear",
        words=Words("the feed-forward is not linear (from v5)", "前馈网络不是线性的（从 v5 起）"),
    ),
    Check(
        name="pre_norm",
        since=9,
        run=pre_norm,
        test="test_each_sublayer_reads_a_layer_normed_stream_from_v9_on",
        words=Words(
            "each sublayer reads a layer-normed stream, ln_f before the head (from v9)",
            "每个子层读的是层归一化后的残差流，输出层之前有 ln_f（从 v9 起）",
        ),
    ),
    Check(
        name="dropout",
        since=10,
        run=dropout,
        test="test_dropout_only_from_v10_on",
        words=Words("dropout in training only (from v10)", "dropout 只在训练时生效（从 v10 起）"),
    ),
    Check(
        name="initial_weights",
        run=initial_weights,
        test="test_initial_weights_are_small_and_centred_and_biases_zero",
        words=Words("initial weights N(0, 0.02), biases 0", "初始权重 N(0, 0.02)，偏置为 0"),
    ),
    Check(
        name="mask_not_saved",
        since=1,
        run=mask_not_saved,
        test="test_the_causal_mask_is_not_saved_with_the_weights",
        words=Words("the causal mask is not saved with the weights", "因果掩码不随权重保存"),
    ),
    Check(
        name="every_parameter_learns",
        run=every_parameter_learns,
        test="test_every_parameter_gets_a_gradient",
        words=Words("every parameter gets a gradient", "每个参数都得到梯度"),
    ),
    Check(
        name="training_and_evaluation_modes",
        trains=True,
        run=training_and_evaluation_modes,
        test="test_training_runs_in_train_mode_and_evaluation_in_eval_mode",
        words=Words(
            "train mode for training, eval mode for evaluation and sampling", "训练用训练模式，评估和采样用 eval 模式"
        ),
    ),
    Check(
        name="training_lowers_the_loss",
        trains=True,
        run=training_lowers_the_loss,
        test="test_training_lowers_the_loss",
        words=Words("60 training steps lower the loss", "训练 60 步后损失下降"),
    ),
    Check(
        name="compute_budget",
        since=11,
        until=11,
        run=compute_budget,
        test="test_the_defaults_fit_the_compute_budget",
        words=Words("the defaults fit v11's compute budget (v11)", "默认值符合 v11 的计算预算（v11）"),
    ),
]
CHECKS.append(
    Check(
        name="records_the_run",
        since=12,
        run=records_the_run,
        test="test_a_run_is_recorded_in_its_folder",
        words=Words(
            "a run leaves its records in --out_dir, and never replaces a trained model silently (v12)",
            "每次运行都在 --out_dir 里留下记录，绝不悄悄替换训练好的模型（v12）",
        ),
    )
)
BY_NAME = {check.name: check for check in CHECKS}


def title(check, n):
    """What a check checks, in both languages, as a learner of stage n reads it."""
    early = getattr(check, "early", None)
    return early[1] if early and n < early[0] else check.words


def checks_for(n, trains=True):
    """The checks a learner's file of stage n gets, in order (those of ideas that come later are left out);
    trains=False leaves out the few that train (the tests of the exercises do, to stay fast)."""
    return [
        check
        for check in CHECKS
        if getattr(check, "since", 1) <= n <= getattr(check, "until", 99)
        and (trains or not getattr(check, "trains", False))
    ]

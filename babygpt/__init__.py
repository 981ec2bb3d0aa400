"""The shared homes of the tools: one module per concept that several tools use.

    babygpt.checkpoint   the stage registry (ids v1 .. v12, modules, files) and the checkpoint format:
                         the stage a checkpoint names, loading it, refusing a bad file in one line
    babygpt.fused        fused attention for v12's model (all heads in one matmul), the trainer's and sampler's
    babygpt.sampling     generation over a key/value cache (the sampler's and the playground's)
    babygpt.pictures     fonts that draw Chinese, attention maps, loss curves
    babygpt.errors       one-line error messages
    babygpt.checks       the behaviour that defines each stage, as checks of a module (tests/test_stages.py runs
                         them on the stages, babygpt_exercise.py on a learner's file)

The arrows point one way: the tools (babygpt_sample.py, babygpt_train.py, babygpt_sweep.py,
babygpt_playground.py, babygpt_exercise.py) import these modules and the stages; these modules import the
stages and each other; a stage imports none of them, and no tool imports another tool. Importing any of them
reads nothing and trains nothing.
"""

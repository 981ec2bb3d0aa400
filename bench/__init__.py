"""The benches: every figure, table and picture the pages publish comes from a script here.

Run them from the repository root, as modules of this package (Python then finds the stages, the tools and
babygpt/ in the root, and nothing else is needed):

    python -m bench                      the index: every script, by role, with what it does
    python -m bench NAME [options]       run one (python -m bench init --help: its options)
    python -m bench.measure.NAME         the same, by its full name

    measure/   runs that train or time something and record what they measured in bench/results/
    pages/     scripts that write page blocks and pictures (from the files and the recorded results)
    testing/   tools that test the tests
    runs.py, progression_table.py   shared by the scripts (job runner, results files, machine line, page
                                    blocks; the progression's settings); a script imports these, never
                                    another script

bench/README.md has the table of every script: what it measures or writes, its results, its page, its time.
"""

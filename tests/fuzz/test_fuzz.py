# SPDX-License-Identifier: MIT
"""A short libFuzzer run of every target (tests/fuzz/run.sh) as part of the
suite: the response parser, the signing encoder and the credentials parsers
(INI file, metadata JSON) under AddressSanitizer,
LeakSanitizer and UndefinedBehaviorSanitizer, starting from the seed corpus.
FUZZ_SECONDS (default 30) is the time per target; they run side by side."""

import os
import re
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
SECONDS = int(os.environ.get("FUZZ_SECONDS", "30"))


def test_fuzz_targets_survive():
    proc = subprocess.run([os.path.join(HERE, "run.sh"), str(SECONDS)],
                          capture_output=True, text=True, timeout=SECONDS + 600)
    out = proc.stdout + proc.stderr
    print(out)
    assert proc.returncode == 0, "fuzzing found a failure:\n" + out
    for target in ("fuzz_api_response", "fuzz_rpc_sign", "fuzz_credentials_file"):
        m = re.search(r"fuzz: %s: (\d+) executions" % target, out)
        assert m, "no result line for %s:\n%s" % (target, out)
        # Thousands per second are normal, some tens on a machine busy with
        # other work; a handful means the target did not really run (or
        # something made every input pathologically slow).
        assert int(m.group(1)) >= 10 * SECONDS, out

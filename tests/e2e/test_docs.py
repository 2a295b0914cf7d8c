# SPDX-License-Identifier: MIT
"""The documentation against the code: the man page collectd-ddoscoo(5)
is clean POD and renders, the built one too, every option that the
plugin accepts is documented in the man page with its default, the
series tables are the plugin's, the README stays a short guide (under 300
lines, the test command CI runs, links that lead somewhere), the RAM
policy allows exactly the operations the plugin calls, and the MIT
license is said in LICENSE, debian/copyright and every source file. The
README's configurations are loaded by collectd in test_readme_config.py."""

import glob
import json
import os
import re
import subprocess

import pytest

from conftest import REPO, project_files

POD = os.path.join(REPO, "doc", "collectd-ddoscoo.pod")
BUILT_MAN = os.path.join(REPO, "doc", "collectd-ddoscoo.5")
README = os.path.join(REPO, "README.md")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def source_options():
    """(block options, plugin options) as the C code compares them: the
    keys of option_value() (an <Account> block's options) and every other
    key the configuration callback accepts."""
    block, plugin = set(), set()
    for path in glob.glob(os.path.join(REPO, "src", "*.c")):
        text = read(path)
        m = re.search(r"^static int option_value\(.*?^}", text, re.M | re.S)
        if m:
            block |= set(re.findall(r'strcasecmp\("(\w+)", key\)', m.group(0)))
        plugin |= set(re.findall(r'strcasecmp\("(\w+)",\s*(?:child|ci)->key\)', text))
    assert len(block) >= 18, block  # option_value() was found
    return sorted(block), sorted(plugin - block)


def pod_items():
    """{option: its text} for every =item B<Option> of the man page, POD
    formatting removed."""
    items = {}
    for m in re.finditer(r"^=item (?:E<lt>)?B<(\w+)>.*?\n(.*?)(?=^=)", read(POD), re.M | re.S):
        items[m.group(1)] = plain(m.group(2))
    return items


def plain(pod):
    text = re.sub(r"E<lt>", "<", pod)
    text = re.sub(r"E<gt>", ">", text)
    for _ in range(3):
        text = re.sub(r"[BCIFL]<([^<>]*)>", r"\1", text)
    return " ".join(text.split())


def render(path):
    r = subprocess.run(["man", "--warnings", "-l", path], capture_output=True, text=True,
                       env={"PATH": "/usr/bin:/bin", "MANWIDTH": "80", "LANG": "C.UTF-8"})
    assert r.returncode == 0, r.stderr
    assert r.stderr == "", r.stderr  # groff's warnings
    return re.sub(".\b", "", r.stdout)  # no overstriking


def test_pod_is_clean():
    r = subprocess.run(["podchecker", "-warnings", "-warnings", POD],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "WARNING" not in r.stderr and "ERROR" not in r.stderr, r.stderr


def test_man_page_renders(tmp_path):
    page = str(tmp_path / "collectd-ddoscoo.5")
    subprocess.run(["pod2man", "--section=5", "--center=collectd-ddoscoo", "--errors=die",
                    "--name=COLLECTD-DDOSCOO", POD, page], check=True)
    text = render(page)
    for heading in ("NAME", "SYNOPSIS", "DESCRIPTION", "CONFIGURATION", "CREDENTIALS",
                    "DISPATCHED VALUES", "SERIES NAMES", "LOG MESSAGES AND ERROR HANDLING",
                    "EXAMPLES", "SEE ALSO"):
        assert re.search(r"^%s$" % heading, text, re.M), heading
    assert "collectd.conf(5)" in text and "collectd(1)" in text


def test_built_man_page_is_installed_by_make():
    # Built by `make` (doc/collectd-ddoscoo.5); `make install` puts it in man5.
    assert os.path.isfile(BUILT_MAN), "doc/collectd-ddoscoo.5 not built: run make first"
    assert os.path.getmtime(BUILT_MAN) >= os.path.getmtime(POD), "stale: run make"
    text = render(BUILT_MAN)
    assert text.startswith("COLLECTD-DDOSCOO(5)")
    version = re.search(r"AC_INIT\(\[collectd-ddoscoo\], \[([^\]]+)\]",
                        read(os.path.join(REPO, "configure.ac"))).group(1)
    assert "collectd-ddoscoo %s" % version in text
    makefile = read(os.path.join(REPO, "Makefile.am"))
    assert re.search(r"^dist_man5_MANS = doc/collectd-ddoscoo\.5$", makefile, re.M)


@pytest.mark.parametrize("option", source_options()[0])
def test_block_option_is_documented_with_its_default(option):
    items = pod_items()
    assert option in items, "%s: no =item in the man page" % option
    assert "Default:" in items[option], (option, items[option])


@pytest.mark.parametrize("option", source_options()[1])
def test_plugin_option_is_documented(option):
    items = pod_items()
    assert option in items, "%s: no =item in the man page" % option
    assert "Default:" in items[option] or option == "Account", (option, items[option])


def statistics_table():
    """(API field, type, type_instance) of every row of the statistics
    table (src/statistics.c)."""
    table = re.findall(r'\{"(\w+)",\s*"(\w+)",\s*"(\w+)"\}',
                       read(os.path.join(REPO, "src", "statistics.c")))
    assert len(table) >= 10, table
    return table


def test_man_page_metric_tables_are_the_plugins():
    """The man page's tables of DISPATCHED VALUES list exactly the values
    of the statistics table (src/statistics.c): API field, type,
    type_instance."""
    pod = read(POD)
    section = pod[pod.index("=head1 DISPATCHED VALUES"):pod.index("=head1 SELF-MONITORING")]
    rows = re.findall(r"^  ([A-Z]\w+) +(\w+) +(\w+) ", section, re.M)
    # Not the headings, nor the blackhole's row per IP ("the IP").
    rows = [r for r in rows if r[0] != "API" and r[2] != "the"]
    assert sorted(set(rows)) == sorted(set(statistics_table())), \
        sorted(set(rows) ^ set(statistics_table()))


def readme_section(title):
    text = read(README)
    start = text.index("\n## %s\n" % title)
    end = text.find("\n## ", start + 1)
    return text[start:end]


def test_readme_series_are_the_plugins():
    """The README's table of series names only type-type_instance pairs
    the plugin dispatches: the statistics table's, bool-<IP>, the web
    statistics' edge_/origin_ variants, and the self-monitoring's."""
    known = {"%s-%s" % (type_, ti) for _, type_, ti in statistics_table()}
    known |= {"bool-<IP>"}
    known |= {"count-%s_%s" % (side, ti) for _, type_, ti in statistics_table()
              for side in ("edge", "origin") if type_ == "count"}
    self_monitoring = read(POD).split("=head1 SELF-MONITORING", 1)[1].split("\n=head1 ", 1)[0]
    for type_, ti in re.findall(r"^  (\w+)\s+(\w[\w-]*)\s", self_monitoring, re.M):
        known.add("%s-%s" % (type_, ti.replace("statistic-", "<statistic>-")))
    table = readme_section("What the series are called")
    rows = re.findall(r"^\| (\S[^|]*?) \| (.*) \|$", table, re.M)
    named = [n for _, cells in rows for n in re.findall(r"`([^`]+)`", cells)]
    assert len(named) >= 25, named
    unknown = [n for n in named if n not in known]
    assert not unknown, unknown
    # The connections and the traffic in full, as in the man page.
    for type_, ti in [(t, i) for _, t, i in statistics_table()][:10]:
        assert "%s-%s" % (type_, ti) in named, (type_, ti)


def test_readme_is_a_short_guide():
    lines = read(README).split("\n")
    assert len(lines) < 300, "README.md has %d lines: move the reference to the man " \
        "page or doc/" % len(lines)
    headings = re.findall(r"^## (.*)$", read(README), re.M)
    for h in ("Two commands", "Installing into your collectd", "Configuration",
              "What the series are called", "Alerting", "Where the rest is"):
        assert h in headings, (h, headings)


def test_readme_test_command_is_the_one_ci_runs():
    """.ci/run execs ./run-tests.sh: the README's test command."""
    ci = read(os.path.join(REPO, ".ci", "run"))
    command = re.search(r"^exec (\S+)$", ci, re.M).group(1)
    commands = re.findall(r"^    (\./\S+)\s+# (.*)$", readme_section("Two commands"), re.M)
    assert (command, "build and run every test") in commands, commands
    assert os.access(os.path.join(REPO, command), os.X_OK)


def test_readme_links_lead_somewhere():
    links = re.findall(r"\]\(([^)#]+)\)", read(README))
    local = [l for l in links if "://" not in l]
    assert "doc/series.md" in local and "doc/alerting.md" in local, local
    missing = [l for l in local if not os.path.isfile(os.path.join(REPO, l))]
    assert not missing, missing
    for doc in glob.glob(os.path.join(REPO, "doc", "*.md")):
        for link in re.findall(r"\]\(([^)#]+)\)", read(doc)):
            if "://" not in link:
                assert os.path.isfile(os.path.join(REPO, "doc", link)), (doc, link)


# The RAM policy: exactly the operations the C code calls.

POLICY = os.path.join(REPO, "conf", "ram-policy.json")
RAM_PREFIX = "yundun-ddoscoo:"


def called_operations():
    """The API operations the plugin calls: the API_ACTION* macros of
    src/api_request.h that the C code hands to account_start(), the
    action of every row of the statistics table (src/statistics.c), which
    the polls hand it as s->stat->action, and of every row of the table of
    sources operations (src/event_sources.c), handed as
    kinds[p->op].action. Any other argument there fails, so that a new
    operation cannot bypass the check."""
    defines = dict(re.findall(r'^#define (API_ACTION\w*) "(\w+)"$',
                              read(os.path.join(REPO, "src", "api_request.h")), re.M))
    table = re.findall(r'^\s*\.action = "(\w+)",$',
                       read(os.path.join(REPO, "src", "statistics.c")), re.M)
    called = set()
    for path in glob.glob(os.path.join(REPO, "src", "*.c")):
        for arg in re.findall(r"\baccount_start\(\s*\w+,\s*([^,()]+),", read(path)):
            arg = arg.strip()
            if arg == "s->stat->action":
                called.update(table)
                continue
            if arg == "kinds[p->op].action":
                rows = re.findall(r"^\s*\[SOURCES_\w+\] = \{(API_ACTION\w*),", read(path), re.M)
                assert rows, path
                called.update(defines[r] for r in rows)
                continue
            assert arg in defines, "%s: account_start() is given %r, not an API_ACTION* " \
                "of src/api_request.h nor a statistic's action" % (os.path.basename(path), arg)
            called.add(defines[arg])
    assert "DescribePortConnsCount" in called, called
    return called


def test_ram_policy_allows_exactly_the_called_operations():
    with open(POLICY, encoding="utf-8") as f:
        policy = json.load(f)
    assert policy["Version"] == "1", policy
    actions = []
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow", statement
        assert statement["Resource"] == "*", statement  # no resource-level authorization
        assert set(statement) == {"Effect", "Action", "Resource"}, statement
        actions += statement["Action"]
    assert len(actions) == len(set(actions)), actions
    assert sorted(actions) == sorted(RAM_PREFIX + op for op in called_operations())


def doc_files():
    return [README, POD, os.path.join(REPO, "conf", "ddoscoo.conf"),
            os.path.join(REPO, "debian", "control")] + \
        sorted(glob.glob(os.path.join(REPO, "src", "*.[ch]")))


def test_ram_actions_carry_the_service_prefix():
    # The RAM code of ddoscoo is yundun-ddoscoo; "ddoscoo:Describe..." is
    # no action at all, and a policy that names it allows nothing.
    for path in doc_files():
        for m in re.finditer(r"(\S*)ddoscoo:([A-Z]\w*)", read(path)):
            assert m.group(1).endswith("yundun-"), (os.path.basename(path), m.group(0))
    # The man page names every action; the README, a guide, points to it
    # and the policy file.
    for op in called_operations():
        assert RAM_PREFIX + op in read(POD), op
    for path in (README, POD):
        text = read(path)
        assert "ram-policy.json" in text, path
        # The system policy that also grants them (yundun-ddoscoo:Describ*).
        assert "AliyunYundunAntiDDoSPremiumReadOnlyAccess" in text, path


def test_man_page_shows_the_shipped_policy():
    pod = read(POD).split("=head2 RAM permissions", 1)[1]
    block = re.search(r"^(  \{\n.*?^  \}\n)", pod, re.M | re.S).group(1)
    with open(POLICY, encoding="utf-8") as f:
        assert json.loads(block) == json.load(f)


def test_ram_policy_is_shipped():
    examples = read(os.path.join(REPO, "debian", "collectd-ddoscoo.examples")).split()
    assert "conf/ram-policy.json" in examples
    assert re.search(r"^EXTRA_DIST\b[^\n]*(\\\n[^\n]*)*\bconf/ram-policy\.json\b",
                     read(os.path.join(REPO, "Makefile.am")), re.M)


# The license: MIT, said once in LICENSE and in every source file.

SPDX = "SPDX-License-Identifier: MIT"


def source_files():
    """C sources and headers, Python files, and scripts (a #! line)."""
    files = []
    for path in project_files():  # a walk of the tree: no git needed
        if path.startswith("tests/fuzz/corpus/"):
            continue
        if path.endswith((".c", ".h", ".py", ".sh")):
            files.append(path)
            continue
        with open(os.path.join(REPO, path), "rb") as f:
            if f.read(2) == b"#!":
                files.append(path)
    return files


def test_every_source_file_has_the_spdx_line():
    files = source_files()
    assert "src/rpc_sign.c" in files and "tests/e2e/conftest.py" in files \
        and "run-tests.sh" in files, files
    missing = []
    for path in files:
        lines = read(os.path.join(REPO, path)).split("\n")
        if path.endswith((".c", ".h")):
            # In the header comment.
            header = lines[:lines.index(" */")] if " */" in lines else []
            ok = header[:1] == ["/**"] and " * " + SPDX in header
        else:
            # The first line, or the second after a #! line.
            first = 1 if lines[0].startswith("#!") else 0
            ok = lines[first] == "# " + SPDX
        if not ok:
            missing.append(path)
    assert not missing, "no '%s' line in the header of: %s" % (SPDX, ", ".join(missing))


def test_license_is_mit_everywhere():
    license_text = read(os.path.join(REPO, "LICENSE"))
    assert license_text.startswith("MIT License\n\nCopyright (c) 2026 The collectd-ddoscoo "
                                   "authors\n\n"), license_text[:80]
    body = license_text.split("\n\n", 2)[2].strip()
    assert body.startswith("Permission is hereby granted, free of charge")
    # debian/copyright, machine-readable: every file MIT, with the full text.
    copyright = read(os.path.join(REPO, "debian", "copyright"))
    assert copyright.startswith(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n")
    assert re.search(r"^Files: \*\nCopyright: 2026 The collectd-ddoscoo authors\n"
                     r"License: MIT$", copyright, re.M), copyright
    m = re.search(r"^License: MIT\n((?: .*\n?)+)", copyright.split("\n\n", 2)[2], re.M)
    assert m, copyright
    text = "\n".join("" if l == " ." else l[1:] for l in m.group(1).rstrip("\n").split("\n"))
    assert text == body
    assert "Permission is hereby granted" not in read(os.path.join(
        REPO, "debian", "collectd-ddoscoo.docs"))
    assert re.search(r"^EXTRA_DIST = [^\n]*\bLICENSE\b",
                     read(os.path.join(REPO, "Makefile.am")), re.M)
    assert "MIT" in read(README).split("## License", 1)[-1]
    assert re.search(r"^=head1 LICENSE\n\n[^=]*\bMIT\b", read(POD), re.M)

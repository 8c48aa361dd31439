"""The docs tell the truth about the command line and link to real files.

Every `python -m pipeline ...`, `tfds-pipeline ...` and `make run ARGS="..."`
example in README.md and docs/*.md, in a fenced block or in inline
backticks, must name a command the CLI has and only options that command
takes; a value shown for a `click.Choice` option must be one of its
choices. Every relative link must point to a file that exists (and to a
heading that exists, when it names one), and the README stays short.
"""

import dataclasses
import glob
import os
import re
import shlex
from typing import List, Optional, Tuple

import click
import pytest

from pipeline.cli import cli

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README_LIMIT = 15_000

# What starts an example: `python -m pipeline`, `.venv/bin/python -m
# pipeline`, `tfds-pipeline`, `.venv/bin/tfds-pipeline`.
_PYTHON = re.compile(r"^(?:\S*/)?python3?$")
_CONSOLE_SCRIPT = re.compile(r"^(?:\S*/)?tfds-pipeline$")
# A short form in prose, `models --verify`: a command name, then a flag.
_SHORT_FORM = re.compile(r"^([a-z][a-z-]*)\s+--")
# Shell words that end one command and start another.
_SEPARATORS = {"&&", "||", ";", "&", "|"}
# A value that stands for one (DIR, NAME, N, URL, PVC_NAME:/mount/path...),
# or elides the rest.
_PLACEHOLDER = re.compile(r"^(?:[A-Z][A-Z0-9_]*(?:[:=/.\-][A-Za-z0-9_/.\-]*)*"
                          r"|\.\.\.|…|<[^>]*>)$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_INLINE = re.compile(r"(?<!`)`([^`\n]+(?:\n[^`\n]+)*)`(?!`)")
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


@dataclasses.dataclass(frozen=True)
class Example:
    """One command line shown in a doc."""

    path: str      # relative to the repository
    line: int      # 1-based, where the command starts
    text: str      # as shown, continuation lines joined
    words: Tuple[str, ...]  # what follows `python -m pipeline`

    def where(self) -> str:
        return f"{self.path}:{self.line}"


@dataclasses.dataclass(frozen=True)
class Flag:
    """One option an example uses, with the values it shows for it."""

    example: Example
    command: Tuple[str, ...]  # e.g. ("schedule",)
    flag: str
    values: Tuple[str, ...]


def doc_paths(repo: str = REPO) -> List[str]:
    """README.md and every page under docs/."""
    return ([os.path.join(repo, "README.md")]
            + sorted(glob.glob(os.path.join(repo, "docs", "**", "*.md"),
                               recursive=True)))


def _fenced_and_prose(lines: List[str]):
    """(fenced lines, prose lines), each a list of (line number, text);
    a prose line inside a fence is blanked and vice versa, so that line
    numbers stay true."""
    fenced, prose = [], []
    inside = False
    for number, line in enumerate(lines, start=1):
        if _FENCE.match(line):
            inside = not inside
            prose.append((number, ""))
            continue
        (fenced if inside else prose).append((number, line))
        (prose if inside else fenced).append((number, ""))
    return fenced, prose


def _joined(numbered):
    """Shell lines with backslash continuations joined: (first line, text)."""
    result, start, parts = [], None, []
    for number, line in numbered:
        if start is None:
            start = number
        stripped = line.rstrip()
        if stripped.endswith("\\"):
            parts.append(stripped[:-1])
            continue
        parts.append(stripped)
        result.append((start, " ".join(parts)))
        start, parts = None, []
    if parts:
        result.append((start, " ".join(parts)))
    return result


def _without_comment(text: str) -> str:
    """A shell line without its `# comment` (a `#` that starts a word,
    outside quotes; `gs://a#b` keeps its `#`)."""
    quote = None
    for i, char in enumerate(text):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or text[i - 1].isspace()):
            return text[:i]
    return text


def _split_words(text: str) -> Optional[List[str]]:
    try:
        return shlex.split(_without_comment(text))
    except ValueError:  # an unbalanced quote: not a shell line
        return None


def _commands(words: List[str]):
    """The words of each command in a shell line, split at `&&`, `;`, `&`
    and at a `|` that is not inside a synopsis's [ ... ]."""
    current, depth = [], 0
    for word in words:
        if word in _SEPARATORS and not (word == "|" and depth > 0):
            yield current
            current, depth = [], 0
            continue
        depth += word.count("[") - word.count("]")
        current.append(word)
    yield current


def _after_prefix(words: List[str], short_form: bool
                  ) -> Optional[List[str]]:
    """What follows `python -m pipeline` (or the console script, or `make
    run ARGS=...`) in one command's words; None if it is none of these."""
    for i, word in enumerate(words):
        if (_PYTHON.match(word) and words[i + 1:i + 3] == ["-m", "pipeline"]):
            return words[i + 3:]
        if _CONSOLE_SCRIPT.match(word):
            return words[i + 1:]
        if word == "make" and words[i + 1:i + 2] == ["run"]:
            args = [w[len("ARGS="):] for w in words[i + 2:]
                    if w.startswith("ARGS=")]
            return ["run"] + (_split_words(args[0]) or []) if args else None
    if short_form and words and words[0] in cli.commands:
        return words
    return None


def extract_examples(path: str, repo: str = REPO) -> List[Example]:
    """Every example of the command line in one Markdown file."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    relative = os.path.relpath(path, repo)
    fenced, prose = _fenced_and_prose(lines)
    candidates = []  # (line, text, short forms allowed)
    for number, text in _joined(fenced):
        candidates.append((number, text, False))
    prose_text = "\n".join(text for _, text in prose)
    for match in _INLINE.finditer(prose_text):
        number = prose_text.count("\n", 0, match.start()) + 1
        code = match.group(1).replace("\n", " ")
        candidates.append((number, code, bool(_SHORT_FORM.match(code))))
    examples = []
    for number, text, short_form in candidates:
        words = _split_words(text)
        if not words:
            continue
        for command in _commands(words):
            rest = _after_prefix(command, short_form)
            if rest is not None:
                examples.append(Example(relative, number, text.strip(),
                                        tuple(rest)))
    return examples


def _strip(word: str) -> str:
    """A word of a synopsis without its brackets: `[--epochs` -> `--epochs`."""
    return word.strip("[](),")


def _alternatives(value: str) -> List[str]:
    """`{local,beam}` -> both; anything else -> itself."""
    if value.startswith("{") and value.endswith("}"):
        return [v.strip() for v in value[1:-1].split(",")]
    return [value]


def resolve(example: Example):
    """(command, its path of names, the words after it, None), or (None,
    the names, None, the problem) if the example names no command."""
    command, names, words = cli, (), list(example.words)
    while isinstance(command, click.Group) and words \
            and not words[0].startswith("-"):
        name = _strip(words[0])
        if _PLACEHOLDER.match(name):  # `COMMAND`, `...`: any command
            return command, names, [], None
        sub = command.commands.get(name)
        if sub is None:
            return None, names + (name,), None, (
                f"{example.where()}: `{' '.join(names + (name,))}` is no "
                f"command of the CLI (it has {sorted(command.commands)}) "
                f"in: {example.text}")
        command, names, words = sub, names + (name,), words[1:]
    return command, names, words, None


def _options(command: click.Command):
    """flag -> its click.Option (`--help` included)."""
    params = command.get_params(click.Context(command))
    return {flag: param for param in params
            if isinstance(param, click.Option)
            for flag in param.opts + param.secondary_opts}


def flags_used(example: Example) -> List[Flag]:
    """Every option the example gives, with the values shown for it."""
    command, names, words, _ = resolve(example)
    if command is None:
        return []
    known = _options(command)
    if names == ("schedule",):
        # With --target local, the options after schedule's own are run's.
        known = {**_options(cli.commands["run"]), **known}
    result = []
    i = 0
    while i < len(words):
        word = _strip(words[i])
        i += 1
        if not word.startswith("-") or word in ("-", "--"):
            continue
        flag, _, inline_value = word.partition("=")
        option = known.get(flag)
        values: Tuple[str, ...] = ()
        takes_value = option is not None and not (option.is_flag
                                                  or option.count)
        if inline_value:
            values = (inline_value,)
        elif takes_value and i < len(words) \
                and not _strip(words[i]).startswith("--"):
            values = (_strip(words[i]),)
            i += 1
        result.append(Flag(example, names, flag, values))
    return result


def flag_problems(flag: Flag) -> List[str]:
    """What is wrong with one option of an example: unknown, or a value
    its choices do not allow."""
    command = cli
    for name in flag.command:
        command = command.commands[name]
    known = _options(command)
    if flag.command == ("schedule",):
        known = {**_options(cli.commands["run"]), **known}
    where, shown = flag.example.where(), flag.example.text
    option = known.get(flag.flag)
    if option is None:
        return [f"{where}: `{' '.join(flag.command) or 'pipeline'}` has no "
                f"option {flag.flag} (in: {shown})"]
    problems = []
    if isinstance(option.type, click.Choice):
        for value in flag.values:
            for alternative in _alternatives(value):
                if _PLACEHOLDER.match(alternative):
                    continue
                if alternative not in option.type.choices:
                    problems.append(
                        f"{where}: {flag.flag} {alternative!r} is not one "
                        f"of {list(option.type.choices)} (in: {shown})")
    return problems


def example_problems(example: Example) -> List[str]:
    """Everything wrong with one example."""
    command, _, _, problem = resolve(example)
    if command is None:
        return [problem]
    return [p for flag in flags_used(example) for p in flag_problems(flag)]


def _all_examples() -> List[Example]:
    return [e for path in doc_paths() for e in extract_examples(path)]


EXAMPLES = _all_examples()
FLAGS = [f for e in EXAMPLES if resolve(e)[0] is not None
         for f in flags_used(e)]


def test_the_docs_show_examples():
    # An extractor that finds nothing would let every check below pass.
    assert len(EXAMPLES) > 20
    assert {e.words[0] for e in EXAMPLES if e.words} >= {
        "run", "compile", "deploy", "schedule", "runs", "models",
        "rollback", "infer-schema"}


@pytest.mark.parametrize(
    "example", EXAMPLES,
    ids=[f"{e.where()} {' '.join(e.words[:1])}" for e in EXAMPLES])
def test_example_names_a_real_command(example):
    problem = resolve(example)[3]
    assert problem is None, problem


@pytest.mark.parametrize(
    "flag", FLAGS,
    ids=[f"{f.example.where()} {' '.join(f.command)} {f.flag}"
         for f in FLAGS])
def test_example_flag_exists(flag):
    problems = flag_problems(flag)
    assert not problems, "\n".join(problems)


def test_readme_is_short():
    size = os.path.getsize(os.path.join(REPO, "README.md"))
    assert size < README_LIMIT, (
        f"README.md is {size} bytes; keep it under {README_LIMIT} and move "
        "detail to a docs/ page")


def _slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(path: str) -> set:
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    _, prose = _fenced_and_prose(lines)
    return {_slug(text.lstrip("#")) for _, text in prose
            if re.match(r"^#{1,6} ", text)}


def link_problems(path: str, repo: str = REPO) -> List[str]:
    """Relative links in one Markdown file that point nowhere."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    _, prose = _fenced_and_prose(lines)
    relative = os.path.relpath(path, repo)
    problems = []
    for number, text in prose:
        for match in _LINK.finditer(text):
            target = match.group(1)
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
                continue
            file_part, _, anchor = target.partition("#")
            resolved = (os.path.normpath(os.path.join(os.path.dirname(path),
                                                      file_part))
                        if file_part else path)
            if not os.path.exists(resolved):
                problems.append(f"{relative}:{number}: {target} points to "
                                f"no file")
            elif anchor and resolved.endswith(".md") \
                    and anchor not in _anchors(resolved):
                problems.append(f"{relative}:{number}: {target}: no heading "
                                f"#{anchor} in {file_part or relative}")
    return problems


@pytest.mark.parametrize("path", doc_paths(),
                         ids=[os.path.relpath(p, REPO) for p in doc_paths()])
def test_relative_links_point_to_files(path):
    problems = link_problems(path)
    assert not problems, "\n".join(problems)


def test_every_docs_page_is_linked_from_the_readme():
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    linked = {os.path.normpath(t.partition("#")[0])
              for t in _LINK.findall(readme)}
    pages = {os.path.relpath(p, REPO) for p in doc_paths()[1:]}
    assert pages and pages <= linked, sorted(pages - linked)


def _all_commands(group=cli, names=()):
    for name, command in sorted(group.commands.items()):
        yield names + (name,), command
        if isinstance(command, click.Group):
            yield from _all_commands(command, names + (name,))


def test_the_command_line_page_lists_every_option():
    with open(os.path.join(REPO, "docs", "command-line.md"),
              encoding="utf-8") as f:
        page = f.read()
    shown = set(re.findall(r"`(--[a-z0-9-]+)", page))
    missing = [f"{' '.join(names)} {param.opts[0]}"
               for names, command in _all_commands()
               for param in command.params
               if isinstance(param, click.Option)
               and param.opts[0] not in shown]
    assert not missing, f"docs/command-line.md does not list {missing}"
    known = {flag for _, command in _all_commands()
             for flag in _options(command)}
    assert not shown - known, (
        f"docs/command-line.md names options no command has: "
        f"{sorted(shown - known)}")


# The checks themselves, on scratch copies: they must catch what they are
# for, or the tests above prove nothing.

def _scratch(tmp_path, text: str) -> str:
    path = tmp_path / "page.md"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_made_up_flag_fails(tmp_path):
    path = _scratch(tmp_path, "Intro.\n\n```sh\n"
                    "python -m pipeline run --epochs 3 --no-such-flag\n```\n")
    [example] = extract_examples(path, repo=str(tmp_path))
    assert example.line == 4
    problems = example_problems(example)
    assert len(problems) == 1
    assert problems[0].startswith("page.md:4: `run` has no option "
                                  "--no-such-flag")


def test_continued_lines_and_inline_code_are_checked(tmp_path):
    path = _scratch(tmp_path, (
        "```sh\n"
        "# a comment --not-a-flag\n"
        "python -m pipeline compile --target kubeflow \\\n"
        "    --output p.yaml --imagee IMAGE\n"
        "```\n"
        "Then `tfds-pipeline models --verify` and\n"
        "`python -m pipeline run\n--runner gpu`, or `make run ARGS=\"--epochz 1\"`;\n"
        "in short, `rollback --too 1` and `python -m pipeline trian`.\n"))
    found = [(e.line, [p.split(" (in:")[0] for p in example_problems(e)])
             for e in extract_examples(path, repo=str(tmp_path))]
    assert found == [
        (3, ["page.md:3: `compile` has no option --imagee"]),
        (6, []),
        (7, ["page.md:7: --runner 'gpu' is not one of ['local', 'beam']"]),
        (8, ["page.md:8: `run` has no option --epochz"]),
        (9, ["page.md:9: `rollback` has no option --too"]),
        (9, ["page.md:9: `trian` is no command of the CLI (it has "
             f"{sorted(cli.commands)}) in: python -m pipeline trian"]),
    ]


def test_synopsis_alternatives_and_placeholders(tmp_path):
    path = _scratch(tmp_path, (
        "```sh\n"
        "python -m pipeline run --runner {local,beam} --output-dir DIR "
        "[--dataset NAME] ...\n"
        "python -m pipeline runs [--output-dir DIR | --metadata URL] [--json]\n"
        "python -m pipeline compile --target {kubeflow,gke} --output FILE\n"
        "python -m pipeline schedule --target local --cron '0 3 * * *' "
        "--epochs 2\n"
        "```\n"))
    problems = [example_problems(e)
                for e in extract_examples(path, repo=str(tmp_path))]
    assert problems[:2] == [[], []] and problems[3] == []
    assert [p.split(" (in:")[0] for p in problems[2]] == [
        "page.md:4: --target 'gke' is not one of ['kubeflow', 'vertex']"]


def test_a_broken_link_fails(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "here.md").write_text("# Here\n\n## A section\n",
                                               encoding="utf-8")
    path = _scratch(tmp_path, (
        "[ok](docs/here.md) [ok too](docs/here.md#a-section) "
        "[web](https://example.com/x.md)\n"
        "[gone](docs/gone.md) [no heading](docs/here.md#nowhere)\n"
        "```\n[in code](not/checked.md)\n```\n"))
    problems = link_problems(path, repo=str(tmp_path))
    assert problems == [
        "page.md:2: docs/gone.md points to no file",
        "page.md:2: docs/here.md#nowhere: no heading #nowhere in "
        "docs/here.md"]

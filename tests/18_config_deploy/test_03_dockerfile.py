"""Hidden suite for 18_config_deploy/03_dockerfile: a Dockerfile read as data.

Nothing is built. The module's `DOCKERFILE` is parsed the way Docker's front end reads it
(parser directives, comments, line continuations, heredocs, `--flags`, exec form against
shell form, stages), and each requirement is read off the parsed instructions: which stage
an instruction belongs to, what it inherits, the folder and environment it runs in. The
healthcheck's URL is cross-checked with the module's `app` through a real request.
"""

import json
import posixpath
import re
import shlex
from dataclasses import dataclass, field
from functools import cache
from types import ModuleType
from urllib.parse import urlsplit

import pytest
from starlette.routing import Route

from workbook.testing import Failure, expect_status, running

# -- the parser -----------------------------------------------------------------------------

KEYWORDS = frozenset(
    {"ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK"}
    | {"LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME"}
    | {"WORKDIR"}
)
FLAGGED = frozenset({"FROM", "RUN", "COPY", "ADD", "HEALTHCHECK"})
JSON_FORMS = frozenset({"RUN", "CMD", "ENTRYPOINT", "SHELL", "COPY", "ADD", "VOLUME"})
DIRECTIVE = re.compile(r"#\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(.*?)\s*")
HEREDOC = re.compile(r"<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")
VARIABLE = re.compile(r"\$(?:\{([A-Za-z_]\w*)(?:(:[-+])([^}]*))?\}|([A-Za-z_]\w*))")
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
STAGE_NAME = re.compile(r"[a-z][a-z0-9_.-]*")
SHELL_OPERATOR = re.compile(r"[;&|()<>]+")


class DockerfileError(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")


@dataclass(eq=False)
class Instruction:
    line: int
    keyword: str
    flags: list[tuple[str, str | None]]
    rest: str  # what follows the keyword and its flags, continuations joined
    heredocs: list[str] = field(default_factory=list)

    @property
    def exec_form(self) -> list[str] | None:
        return json_array(self.rest) if self.keyword in JSON_FORMS else None

    def flag(self, name: str) -> str | None:
        values = self.flag_values(name)
        return values[-1] if values else None

    def flag_values(self, name: str) -> list[str]:
        return [value or "" for flag, value in self.flags if flag == name]

    def words(self) -> list[str]:
        """COPY's and ADD's sources and destination."""
        words = self.exec_form or self.rest.split()
        return [word for word in words if not HEREDOC.fullmatch(word)]

    def __str__(self) -> str:
        flags = "".join(f"--{n}={v} " if v is not None else f"--{n} " for n, v in self.flags)
        text = " ".join(f"{self.keyword} {flags}{self.rest}".split())
        return f"line {self.line}: {text if len(text) <= 100 else text[:99] + '…'}"


@dataclass(eq=False)
class Stage:
    index: int
    image: str  # variables expanded; an earlier stage's name when `parent` is set
    name: str | None
    line: int
    parent: "Stage | None"
    global_args: dict[str, str]
    instructions: list[Instruction] = field(default_factory=list)

    def chain(self) -> list[Instruction]:
        """What this stage is made of: its ancestors' instructions, then its own."""
        return (self.parent.chain() if self.parent else []) + self.instructions

    def own(self) -> list[tuple[int, Instruction]]:
        """This stage's own instructions, each with its position in the chain."""
        start = len(self.chain()) - len(self.instructions)
        return list(enumerate(self.instructions, start))

    def base(self) -> "Stage":
        return self.parent.base() if self.parent else self


@dataclass
class Dockerfile:
    directives: dict[str, str]
    global_args: list[Instruction]
    stages: list[Stage]

    def stage_named(self, reference: str, before: int) -> Stage | None:
        """The stage that `--from=reference` means, if it names one rather than an image."""
        for stage in self.stages[:before]:
            if reference.lower() == stage.name or reference == str(stage.index):
                return stage
        return None


def json_array(text: str) -> list[str] | None:
    if not text.lstrip().startswith("["):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None  # Docker reads it in shell form then
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    return None


def expand(text: str, env: dict[str, str]) -> str:
    """Docker's variable substitution; a name it does not know is left as written."""

    def value(match: re.Match[str]) -> str:
        name = match[1] or match[4]
        if match[2] == ":-":
            return env.get(name) or match[3]
        if match[2] == ":+":
            return match[3] if env.get(name) else ""
        return env.get(name, match[0])

    return VARIABLE.sub(value, text)


def pairs(instruction: Instruction) -> list[tuple[str, str | None]]:
    """ENV's or ARG's names with their raw values (None: an ARG without a default)."""
    try:
        words = shlex.split(instruction.rest)
    except ValueError as exc:
        raise DockerfileError(instruction.line, f"{instruction.keyword}: {exc}") from None
    if instruction.keyword == "ENV" and "=" not in words[0]:  # the old form: ENV NAME value
        return [(words[0], " ".join(words[1:]))]
    found: list[tuple[str, str | None]] = []
    for word in words:
        name, equals, raw = word.partition("=")
        if not NAME.fullmatch(name):
            raise DockerfileError(instruction.line, f"{instruction.keyword}: bad name {name!r}")
        if instruction.keyword == "ENV" and not equals:
            raise DockerfileError(instruction.line, f"ENV {name} has no value")
        found.append((name, raw if equals else None))
    return found


def parse(text: str) -> Dockerfile:
    lines = text.splitlines()
    directives: dict[str, str] = {}
    number = 0
    while number < len(lines) and (found := DIRECTIVE.fullmatch(lines[number].strip())):
        directives.setdefault(found[1].lower(), found[2])
        number += 1
    escape = directives.get("escape", "\\")
    if escape not in ("\\", "`"):
        raise DockerfileError(1, f"the escape directive takes \\ or `, not {escape!r}")
    instructions: list[Instruction] = []
    while number < len(lines):
        start, parts = number + 1, [lines[number]]
        number += 1
        if not parts[0].strip() or parts[0].lstrip().startswith("#"):
            continue
        while parts[-1].rstrip().endswith(escape) and number < len(lines):
            parts[-1] = parts[-1].rstrip()[:-1]
            while number < len(lines) and (
                not lines[number].strip() or lines[number].lstrip().startswith("#")
            ):
                number += 1  # comments and blank lines inside a continued instruction
            if number < len(lines):
                parts.append(lines[number])
                number += 1
        instruction = _instruction(start, "".join(parts).rstrip().removesuffix(escape))
        if instruction.keyword in ("RUN", "COPY", "ADD") and instruction.exec_form is None:
            for marker in HEREDOC.finditer(instruction.rest):
                body: list[str] = []
                while True:
                    if number == len(lines):
                        raise DockerfileError(start, f"the heredoc {marker[3]} never ends")
                    line = lines[number].lstrip("\t") if marker[1] else lines[number]
                    number += 1
                    if line == marker[3]:
                        break
                    body.append(line)
                instruction.heredocs.append("\n".join(body))
        instructions.append(instruction)
    return _stages(directives, instructions)


def _instruction(line: int, text: str) -> Instruction:
    keyword, *rest = text.split(None, 1)
    keyword, remainder = keyword.upper(), rest[0].strip() if rest else ""
    if keyword not in KEYWORDS:
        raise DockerfileError(line, f"unknown instruction {keyword}")
    flags: list[tuple[str, str | None]] = []
    while keyword in FLAGGED and remainder.startswith("--"):
        word, *rest = remainder.split(None, 1)
        name, equals, value = word[2:].partition("=")
        flags.append((name.lower(), value if equals else None))
        remainder = rest[0].strip() if rest else ""
    if not remainder:
        raise DockerfileError(line, f"{keyword} needs arguments")
    return Instruction(line, keyword, flags, remainder)


def _stages(directives: dict[str, str], instructions: list[Instruction]) -> Dockerfile:
    dockerfile = Dockerfile(directives, [], [])
    global_args: dict[str, str] = {}
    for instruction in instructions:
        if instruction.keyword in ("ENV", "ARG"):
            found = pairs(instruction)  # a syntax error shows here, at parse time
        if instruction.keyword == "RUN":
            commands(instruction)  # as is a shell syntax error
        copies = instruction.keyword in ("COPY", "ADD")
        if copies and len(instruction.words()) < 1 + (not instruction.heredocs):
            raise DockerfileError(instruction.line, f"{instruction.keyword} needs two paths")
        if instruction.keyword == "ARG" and not dockerfile.stages:
            dockerfile.global_args.append(instruction)
            global_args |= {name: value or "" for name, value in found}
            continue
        if instruction.keyword != "FROM":
            if not dockerfile.stages:
                raise DockerfileError(instruction.line, "expected FROM first (only ARG before it)")
            dockerfile.stages[-1].instructions.append(instruction)
            continue
        words = instruction.rest.split()
        if len(words) not in (1, 3) or (len(words) == 3 and words[1].lower() != "as"):
            raise DockerfileError(instruction.line, "FROM takes an image, then AS name")
        name = words[2].lower() if len(words) == 3 else None
        if name is not None and not STAGE_NAME.fullmatch(name):
            raise DockerfileError(instruction.line, f"{name!r} is not a stage name")
        if name is not None and any(stage.name == name for stage in dockerfile.stages):
            raise DockerfileError(instruction.line, f"a stage is already named {name!r}")
        image = expand(words[0], global_args)
        parent = next((s for s in dockerfile.stages if s.name == image.lower()), None)
        stage = Stage(len(dockerfile.stages), image, name, instruction.line, parent, global_args)
        dockerfile.stages.append(stage)
    if not dockerfile.stages:
        raise DockerfileError(1, "expected a FROM, not none")
    return dockerfile


# -- what the instructions mean -------------------------------------------------------------

SPEC_FILES = ("pyproject.toml", "uv.lock", ".python-version")
UV_COMMANDS = frozenset(
    {"add", "auth", "build", "cache", "export", "format", "help", "init", "lock", "pip"}
    | {"publish", "python", "remove", "run", "self", "sync", "tool", "tree", "venv", "version"}
)
TRUE = frozenset({"1", "true", "yes", "on", "y", "t"})
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "0.0.0.0"})
SECRET_WORDS = ("SECRET", "PASSWORD", "TOKEN", "KEY")
KNOWN_USERS = frozenset({"nobody", "nonroot"})


def build_env(stage: Stage, upto: int) -> dict[str, str]:
    """What RUN sees before position `upto` of the stage's chain: ENV, and ARG values."""
    env: dict[str, str] = {}
    for instruction in stage.chain()[:upto]:
        if instruction.keyword in ("ENV", "ARG"):
            for name, raw in pairs(instruction):
                value = raw if raw is not None else stage.global_args.get(name, env.get(name))
                if value is not None:
                    env[name] = expand(value, env)
    return env


def runtime_env(stage: Stage, upto: int) -> dict[str, str]:
    """What the running container gets: ENV alone, for ARG values stay at build time."""
    env: dict[str, str] = {}
    for instruction in stage.chain()[:upto]:
        if instruction.keyword == "ENV":
            for name, raw in pairs(instruction):
                env[name] = expand(raw or "", env)
    return env


def workdir(stage: Stage, upto: int) -> str:
    folder = "/"
    for position, instruction in enumerate(stage.chain()[:upto]):
        if instruction.keyword == "WORKDIR":
            folder = resolve(expand(instruction.rest, build_env(stage, position)), folder)
    return folder


def resolve(path: str, folder: str) -> str:
    return posixpath.normpath(posixpath.join(folder, path.strip("\"'")))


def last(instructions: list[Instruction], keyword: str) -> tuple[int, Instruction | None]:
    for position in range(len(instructions) - 1, -1, -1):
        if instructions[position].keyword == keyword:
            return position, instructions[position]
    return -1, None


@dataclass
class Command:
    """One simple command of a RUN, with the assignments written in front of it."""

    instruction: Instruction
    argv: list[str]
    env: dict[str, str]
    cwd: str


def commands(instruction: Instruction, cwd: str = "/") -> list[Command]:
    if instruction.exec_form is not None:
        return [Command(instruction, instruction.exec_form, {}, cwd)]
    scripts = [HEREDOC.sub(" ", instruction.rest)]
    for body in instruction.heredocs:
        scripts += body.replace("\\\n", "").splitlines()
    found: list[Command] = []
    for script in scripts:
        lexer = shlex.shlex(script, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        try:
            words = [*lexer, ";"]
        except ValueError as exc:
            raise DockerfileError(instruction.line, f"RUN: {exc}") from None
        simple: list[str] = []
        for word in words:
            if not SHELL_OPERATOR.fullmatch(word):
                simple.append(word)
                continue
            env: dict[str, str] = {}
            while simple and re.fullmatch(r"[A-Za-z_]\w*=.*", simple[0]):
                name, _, value = simple.pop(0).partition("=")
                env[name] = value
            if simple[:1] == ["cd"] and len(simple) > 1:
                cwd = resolve(simple[1], cwd)
            elif simple:
                found.append(Command(instruction, simple, env, cwd))
            simple = []
    return found


def program(argv: list[str]) -> tuple[str, list[str]]:
    """The program a command runs (`python -m x` runs x) and its arguments."""
    name = posixpath.basename(argv[0]) if argv else ""
    if re.fullmatch(r"python(\d+(\.\d+)?)?", name) and argv[1:2] == ["-m"] and len(argv) > 2:
        return argv[2], argv[3:]
    return name, argv[1:]


def uv_subcommand(argv: list[str]) -> str | None:
    name, arguments = program(argv)
    if name != "uv":
        return None
    return next((word for word in arguments if word in UV_COMMANDS), "")


def option(arguments: list[str], name: str) -> str | None:
    """The last value given as `--name value` or `--name=value`."""
    value = None
    for position, word in enumerate(arguments):
        if word == name and position + 1 < len(arguments):
            value = arguments[position + 1]
        elif word.startswith(name + "="):
            value = word.partition("=")[2]
    return value


def mounts(instruction: Instruction) -> list[dict[str, str]]:
    found = []
    for spec in instruction.flag_values("mount"):
        fields = (part.partition("=") for part in spec.split(",") if part)
        found.append({key.lower(): value for key, _, value in fields})
    return found


def image_tag(reference: str) -> tuple[str, str | None, str | None]:
    """An image reference's repository, tag and digest."""
    name, _, digest = reference.partition("@")
    slash = name.rfind("/")
    repository, colon, tag = name[slash + 1 :].partition(":")
    return name[: slash + 1] + repository, tag if colon else None, digest or None


def is_uv_image(reference: str) -> bool:
    repository = image_tag(reference)[0]
    return repository == "uv" or repository.endswith("/uv")


@dataclass
class Install:
    """A `uv sync`: where it ran and which environment it made."""

    stage: Stage
    command: Command
    position: int  # in the stage's chain
    project: str
    venv: str

    def setting(self, flags: tuple[str, ...], names: tuple[str, ...]) -> bool:
        """One of these flags is given, or one of these uv variables is true."""
        if any(flag in self.command.argv for flag in flags):
            return True
        env = build_env(self.stage, self.position) | self.command.env
        return any(env.get(name, "").strip().lower() in TRUE for name in names)


def installs(dockerfile: Dockerfile) -> list[Install]:
    """Every `uv sync`, in build order."""
    found = []
    for stage in dockerfile.stages:
        for position, instruction in stage.own():
            if instruction.keyword != "RUN":
                continue
            env = build_env(stage, position)
            for command in commands(instruction, workdir(stage, position)):
                if uv_subcommand(command.argv) != "sync":
                    continue
                folder = option(command.argv, "--project") or option(command.argv, "--directory")
                project = resolve(folder, command.cwd) if folder else command.cwd
                venv = (env | command.env).get("UV_PROJECT_ENVIRONMENT") or ".venv"
                found.append(Install(stage, command, position, project, resolve(venv, project)))
    return found


@dataclass
class ContextCopy:
    """A COPY or ADD from the build context, or a bind mount of it on a RUN."""

    instruction: Instruction
    sources: list[str]
    landings: set[str]  # where the dependency files among the sources end up

    @property
    def code(self) -> list[str]:
        return [source for source in self.sources if not is_spec(source)]


def is_spec(source: str) -> bool:
    folder, name = posixpath.split(posixpath.normpath(source))
    return folder in ("", ".") and name.rstrip("*") in SPEC_FILES


def context_copies(stage: Stage, upto: int) -> list[ContextCopy]:
    """The COPY and ADD from the context in the stage's chain, before position `upto`."""
    found = []
    for position, instruction in enumerate(stage.chain()[:upto]):
        if instruction.keyword not in ("COPY", "ADD") or instruction.flag("from") is not None:
            continue
        env = build_env(stage, position)
        words = [expand(word, env) for word in instruction.words()]
        sources = [word for word in words[:-1] if not re.match(r"(https?://|git@)", word)]
        target = resolve(words[-1], workdir(stage, position))
        into = len(words) > 2 or words[-1].endswith("/") or words[-1] in (".", "./")
        landings = set()
        for source in filter(is_spec, sources):
            name = posixpath.join(target, posixpath.basename(source).rstrip("*"))
            landings |= {name} if into else {name, target}
        if sources:
            found.append(ContextCopy(instruction, sources, landings))
    return found


def runtime(dockerfile: Dockerfile) -> tuple[Stage, list[Instruction]]:
    stage = dockerfile.stages[-1]
    return stage, stage.chain()


def environment(dockerfile: Dockerfile) -> str:
    """Where the runtime stage has the environment a builder's uv sync made."""
    stage = dockerfile.stages[-1]
    made = [install for install in installs(dockerfile) if install.stage is not stage]
    if not made:
        raise Failure("expected uv sync in a builder stage, not only in the runtime stage")
    moved = None
    for position, instruction in stage.own():
        reference = instruction.flag("from") if instruction.keyword == "COPY" else None
        builder = dockerfile.stage_named(reference, stage.index) if reference else None
        if builder is None:
            continue
        env = build_env(stage, position)
        words = [expand(word, env) for word in instruction.words()]
        target = resolve(words[-1], workdir(stage, position))
        for install in made:
            if not any(step is install.command.instruction for step in builder.chain()):
                continue
            for source in (resolve(word, "/") for word in words[:-1]):
                if install.venv == source or install.venv.startswith(source.rstrip("/") + "/"):
                    landing = posixpath.normpath(f"{target}/{install.venv[len(source) :]}")
                    if landing == install.venv:
                        return landing
                    moved = install, landing, instruction
    if moved:
        install, landing, instruction = moved
        raise Failure(
            f"expected the environment at {install.venv}, where uv sync made it, not at "
            f"{landing}: {instruction}",
            help="A virtual environment does not move: its scripts start with "
            f"#!{install.venv}/bin/python. Copy it to the very path it was made at.",
        )
    raise Failure(
        f"expected a COPY --from=<builder> of {made[-1].venv} (made by "
        f"{made[-1].command.instruction}) in the runtime stage, not none",
        help="Does the runtime stage copy the environment from the builder, as in "
        "COPY --from=builder /app /app?",
    )


@dataclass
class Served:
    """What the runtime's CMD serves, read as the server reads its arguments."""

    cmd: Instruction
    argv: list[str]
    host: str
    port: str


def served(dockerfile: Dockerfile) -> Served:
    stage, chain = runtime(dockerfile)
    position, cmd = last(chain, "CMD")
    if cmd is None or not cmd.exec_form:
        raise Failure("expected the CMD in exec form")  # the CMD's own check says more
    env = runtime_env(stage, position)
    server, arguments = program(cmd.exec_form)
    if server == "fastapi":
        host, port = "0.0.0.0", env.get("PORT", "8000")
    else:
        host, port = env.get("UVICORN_HOST", "127.0.0.1"), env.get("UVICORN_PORT", "8000")
    host = option(arguments, "--host") or host
    port = option(arguments, "--port") or port
    return Served(cmd, cmd.exec_form, host, port)


def exposed(stage: Stage) -> set[str]:
    ports = set()
    for position, instruction in enumerate(stage.chain()):
        if instruction.keyword != "EXPOSE":
            continue
        for word in expand(instruction.rest, build_env(stage, position)).split():
            number, _, protocol = word.partition("/")
            if protocol.lower() not in ("", "tcp"):
                continue
            low, dash, high = number.partition("-")
            if dash and low.isdigit() and high.isdigit():
                ports |= {str(port) for port in range(int(low), int(high) + 1)}
            else:
                ports.add(number)
    return ports


@dataclass
class Healthcheck:
    instruction: Instruction
    url: str


def healthcheck(dockerfile: Dockerfile) -> Healthcheck:
    _, chain = runtime(dockerfile)
    _, instruction = last(chain, "HEALTHCHECK")
    if instruction is None:
        raise Failure("expected a HEALTHCHECK in the runtime stage, not none", help=NO_HEALTHCHECK)
    kind, *command = instruction.rest.split(None, 1)
    if kind.upper() == "NONE":
        raise Failure(f"expected a HEALTHCHECK CMD, not {instruction}", help=NO_HEALTHCHECK)
    if kind.upper() != "CMD" or not command:
        raise Failure(f"expected HEALTHCHECK [options] CMD [...], not {instruction}")
    argv = json_array(command[0])
    if not argv:
        raise Failure(
            f"expected the HEALTHCHECK's CMD in exec form (a JSON array), not {instruction}",
            help=SHELL_FORM,
        )
    urls = re.findall(r"https?://[^\s'\"<>\\)]+", " ".join(argv))
    if len(urls) != 1:
        raise Failure(
            f"expected one http:// URL written out in the HEALTHCHECK, not {len(urls)}: "
            f"{instruction}",
            help="The checks read the URL the healthcheck asks: write it out in full, "
            "http://127.0.0.1:<port>/<path>, rather than building it from variables.",
        )
    return Healthcheck(instruction, urls[0])


# -- the checks -----------------------------------------------------------------------------

SHELL_FORM = (
    'Is it a JSON array, with double quotes: ["fastapi", "run", ...]? A bare command (or '
    "single quotes, which are not JSON) is the shell form: /bin/sh becomes PID 1 and the "
    "server never gets the SIGTERM that stops the container."
)
NO_HEALTHCHECK = (
    'Does the runtime stage declare HEALTHCHECK CMD ["python", "-c", "...urlopen(...)"], '
    "asking the app's health route, so Docker can tell a live container from a stuck one?"
)
CODE_FIRST = (
    "Is the code copied before the dependencies are installed? Then every edit of the code "
    "installs them all again. Copy pyproject.toml and uv.lock, run uv sync "
    "--no-install-project, and only then copy the code."
)
STUB_PARSES = pytest.mark.stub_may_pass("the stub's naive Dockerfile is a valid Dockerfile")
PARSES = pytest.mark.requires("test_the_dockerfile_parses")
INSTALLS = pytest.mark.requires("test_dependencies_install_from_the_lock_file")
CMD = pytest.mark.requires("test_the_cmd_runs_fastapi_in_exec_form")
HEALTHCHECK = pytest.mark.requires("test_the_healthcheck_is_in_exec_form")


@cache
def _parsed(text: str) -> Dockerfile:
    return parse(text)


def dockerfile_of(exercise: ModuleType) -> Dockerfile:
    text = getattr(exercise, "DOCKERFILE", None)
    if not isinstance(text, str):
        raise Failure(f"expected DOCKERFILE to be a string, not {type(text).__name__}")
    try:
        return _parsed(text)
    except DockerfileError as exc:
        raise Failure(
            f"expected a Dockerfile that parses, not an error at {exc}",
            help="Does every instruction start a line of its own, with a backslash ending "
            'each line it continues? Keep DOCKERFILE a raw string (r"""..."""): in a plain '
            "one, Python reads the backslashes first.",
        ) from None


@STUB_PARSES
def test_the_dockerfile_parses(exercise: ModuleType) -> None:
    """the Dockerfile parses: known instructions, a FROM first, stages named once"""
    dockerfile_of(exercise)


@PARSES
def test_at_least_two_stages(exercise: ModuleType) -> None:
    """it builds in two stages at least: a builder, then the runtime"""
    stages = dockerfile_of(exercise).stages
    if len(stages) < 2:
        raise Failure(
            f"expected two stages at least (two FROM), not {len(stages)}",
            help="Is everything built in one stage? Build the environment in a first stage "
            "(FROM ... AS builder), then start the runtime from a fresh base and copy it in.",
        )


@PARSES
def test_base_images_are_pinned(exercise: ModuleType) -> None:
    """every base image is pinned to a tag other than latest (or to a digest)"""
    dockerfile = dockerfile_of(exercise)
    for stage in dockerfile.stages:
        used = [] if stage.parent else [(stage.image, f"line {stage.line}: FROM {stage.image}")]
        for position, instruction in stage.own():
            references = [m.get("from") for m in mounts(instruction)]
            if instruction.keyword in ("COPY", "ADD"):
                references.append(instruction.flag("from"))
            for reference in filter(None, references):
                reference = expand(reference, build_env(stage, position))
                if dockerfile.stage_named(reference, stage.index) is None:
                    used.append((reference, str(instruction)))
        for reference, where in used:
            repository, tag, digest = image_tag(reference)
            if reference == "scratch" or digest:
                continue
            if tag is None or tag == "latest" or "$" in tag:
                raise Failure(
                    f"expected {repository} pinned to a version tag, not "
                    f"{'no tag' if tag is None else repr(tag)}: {where}",
                    help="Does an image without a tag (or with :latest) change under you? Name "
                    "a version, as python:3.13-slim-bookworm, so a rebuild gets the same base.",
                )


@PARSES
def test_dependencies_install_from_the_lock_file(exercise: ModuleType) -> None:
    """the dependencies are installed by uv sync from the lock file: --locked or --frozen"""
    found = installs(dockerfile_of(exercise))
    if not found:
        raise Failure(
            "expected a RUN with uv sync, not none",
            help="Is pip doing the install? uv sync --locked installs exactly what uv.lock says.",
        )
    for install in found:
        if not install.setting(("--locked", "--frozen"), ("UV_LOCKED", "UV_FROZEN")):
            raise Failure(
                f"expected uv sync --locked (or --frozen), not {install.command.instruction}",
                help="Without --locked, uv sync may resolve again and install versions that "
                "the lock file does not hold; --locked refuses a lock that is out of date.",
            )


@INSTALLS
def test_dependencies_before_the_code(exercise: ModuleType) -> None:
    """pyproject.toml and uv.lock alone are copied before the install; the code after it"""
    dockerfile = dockerfile_of(exercise)
    install = installs(dockerfile)[0]
    run = install.command.instruction
    before = context_copies(install.stage, install.position)
    for mount in mounts(run):
        if mount.get("type", "bind") == "bind" and "from" not in mount:
            source = mount.get("source") or mount.get("src") or "."
            target = mount.get("target") or mount.get("dst") or mount.get("destination") or ""
            landing = resolve(target, install.command.cwd)
            before.append(ContextCopy(run, [source], {landing} if is_spec(source) else set()))
    for copy in before:
        if copy.code:
            raise Failure(
                f"expected only pyproject.toml and uv.lock from the context before the first "
                f"uv sync ({run}), not {' '.join(copy.code)}: {copy.instruction}",
                help=CODE_FIRST,
            )
    landed = set().union(*(copy.landings for copy in before))
    for name in ("pyproject.toml", "uv.lock"):
        wanted = posixpath.join(install.project, name)
        if wanted not in landed:
            raise Failure(
                f"expected {wanted} in place before the first uv sync ({run}), not missing",
                help="Does a COPY put pyproject.toml and uv.lock in the folder where uv sync "
                "runs (its WORKDIR) before it runs?",
            )
    after = [
        copy
        for stage in dockerfile.stages
        for copy in context_copies(stage, len(stage.chain()))
        if copy.code and copy.instruction.line > run.line
    ]
    if not after:
        raise Failure(f"expected the code copied after the first uv sync ({run}), not never")


@INSTALLS
def test_no_dev_dependencies(exercise: ModuleType) -> None:
    """no dev dependencies: every uv sync has --no-dev"""
    for install in installs(dockerfile_of(exercise)):
        flags, names = ("--no-dev", "--no-default-groups"), ("UV_NO_DEV", "UV_NO_DEFAULT_GROUPS")
        if not install.setting(flags, names):
            raise Failure(
                f"expected uv sync --no-dev, not {install.command.instruction}",
                help="uv sync installs the dev group unless told not to: test runners and "
                "linters have no place in the image.",
            )


@PARSES
def test_the_runtime_has_no_uv(exercise: ModuleType) -> None:
    """the runtime stage neither contains uv nor runs it"""
    dockerfile = dockerfile_of(exercise)
    stage, chain = runtime(dockerfile)
    base = stage.base()
    if is_uv_image(base.image):
        raise Failure(f"expected a base without uv, not line {base.line}: FROM {base.image}")
    for instruction in chain:
        found = None
        if instruction.keyword in ("COPY", "ADD"):
            reference = instruction.flag("from")
            if reference and is_uv_image(reference):
                found = "a COPY from the uv image"
            sources = instruction.words()[:-1]
            if any(posixpath.basename(source.rstrip("/")) in ("uv", "uvx") for source in sources):
                found = "uv copied in"
        for command in commands(instruction) if instruction.keyword == "RUN" else []:
            name, arguments = program(command.argv)
            if uv_subcommand(command.argv) is not None:
                found = "uv run"
            elif name.startswith("pip") and any(re.match(r"uv\b", w) for w in arguments):
                found = "uv installed by pip"
            elif any("astral.sh" in word for word in command.argv):
                found = "uv installed by its script"
        if found:
            raise Failure(
                f"expected no uv in the runtime stage, not {found}: {instruction}",
                help="Is the build tool shipped? The runtime needs the environment uv made, "
                "not uv: copy the .venv from the builder stage and leave uv behind.",
            )


@INSTALLS
def test_the_runtime_copies_the_environment(exercise: ModuleType) -> None:
    """the runtime copies the environment from the builder stage, to the same path"""
    environment(dockerfile_of(exercise))


@PARSES
def test_runs_as_a_non_root_user(exercise: ModuleType) -> None:
    """the runtime runs as a user that exists and is not root, set before the CMD"""
    stage, chain = runtime(dockerfile_of(exercise))
    position, user = last(chain, "USER")
    if user is None:
        raise Failure(
            "expected a USER in the runtime stage, not none: the container runs as root",
            help="Does the runtime stage create a system user (useradd) and switch to it "
            "with USER before the CMD?",
        )
    name = expand(user.rest.split()[0], build_env(stage, position)).partition(":")[0]
    if name in ("root", "0", ""):
        raise Failure(f"expected a user other than root, not {name or 'none'}: {user}")
    cmd_position, cmd = last(chain, "CMD")
    if cmd is not None and cmd_position < position:
        raise Failure(f"expected the USER before the CMD ({cmd}), not after it: {user}")
    created = any(
        program(command.argv)[0] in ("useradd", "adduser") and name in command.argv[1:]
        for instruction in chain[:position]
        for command in (commands(instruction) if instruction.keyword == "RUN" else [])
    )
    if not (name.isdigit() or name in KNOWN_USERS or created):
        raise Failure(
            f"expected the user {name!r} created before {user}, not missing",
            help="The base image has no user by that name: create it in the runtime stage "
            "(groupadd, then useradd), or give a numeric id.",
        )


@PARSES
def test_the_cmd_runs_fastapi_in_exec_form(exercise: ModuleType) -> None:
    """the CMD is in exec form, a JSON array, and runs fastapi run (or uvicorn)"""
    _, chain = runtime(dockerfile_of(exercise))
    _, entrypoint = last(chain, "ENTRYPOINT")
    if entrypoint is not None:
        raise Failure(f"expected no ENTRYPOINT (it takes the CMD as arguments), not {entrypoint}")
    _, cmd = last(chain, "CMD")
    if cmd is None:
        raise Failure("expected a CMD in the runtime stage, not none")
    if not cmd.exec_form:
        raise Failure(f"expected the CMD in exec form (a JSON array), not {cmd}", help=SHELL_FORM)
    server, arguments = program(cmd.exec_form)
    if server == "fastapi" and arguments[:1] == ["dev"]:
        raise Failure(
            f"expected fastapi run, not fastapi dev: {cmd}",
            help="fastapi dev reloads on every change and listens on 127.0.0.1 alone: it is "
            "for your machine. fastapi run is the one for production.",
        )
    if not ((server == "fastapi" and arguments[:1] == ["run"]) or server == "uvicorn"):
        raise Failure(f"expected the CMD to run fastapi run or uvicorn, not {cmd}")
    if "--reload" in arguments:
        raise Failure(f"expected no --reload in production, not {cmd}")


@pytest.mark.requires(
    "test_the_runtime_copies_the_environment", "test_the_cmd_runs_fastapi_in_exec_form"
)
def test_the_cmd_finds_the_environment(exercise: ModuleType) -> None:
    """the CMD's program comes from that environment: its bin folder leads PATH"""
    dockerfile = dockerfile_of(exercise)
    folder = environment(dockerfile) + "/bin"
    stage, chain = runtime(dockerfile)
    position, cmd = last(chain, "CMD")
    executable = served(dockerfile).argv[0]
    if executable.startswith("/"):
        if posixpath.dirname(posixpath.normpath(executable)) != folder:
            raise Failure(f"expected a program from {folder}, not {executable}: {cmd}")
        return
    path = runtime_env(stage, position).get("PATH", "$PATH").split(":")
    inherited = [n for n, entry in enumerate(path) if entry in ("$PATH", "${PATH}")]
    mine = [n for n, entry in enumerate(path) if posixpath.normpath(entry or ".") == folder]
    if not mine or (inherited and inherited[0] < mine[0]):
        raise Failure(
            f"expected {folder} ahead of the base image's PATH, not PATH={':'.join(path)}",
            help=f'Can the CMD find {executable}? ENV PATH="{folder}:$PATH" puts the '
            "environment's programs first.",
        )


@CMD
def test_serves_on_all_interfaces(exercise: ModuleType) -> None:
    """the server listens on 0.0.0.0, where it can be reached from outside the container"""
    serving = served(dockerfile_of(exercise))
    if serving.host != "0.0.0.0":
        raise Failure(
            f"expected the server on host 0.0.0.0, not {serving.host}: {serving.cmd}",
            help="127.0.0.1 inside a container is the container alone: nothing outside can "
            "connect. uvicorn listens there unless given --host 0.0.0.0.",
        )


@CMD
def test_the_served_port_is_exposed(exercise: ModuleType) -> None:
    """the port the server listens on is one that EXPOSE declares"""
    dockerfile = dockerfile_of(exercise)
    serving = served(dockerfile)
    if not serving.port.isdigit():
        raise Failure(
            f"expected a port number, not {serving.port!r}: {serving.cmd}",
            help="The exec form runs no shell, so $PORT reaches the server as written.",
        )
    ports = exposed(runtime(dockerfile)[0])
    if serving.port not in ports:
        declared = "EXPOSE " + " ".join(sorted(ports)) if ports else "no EXPOSE"
        raise Failure(f"expected EXPOSE {serving.port} (served by {serving.cmd}), not {declared}")


@PARSES
def test_the_healthcheck_is_in_exec_form(exercise: ModuleType) -> None:
    """the runtime has a HEALTHCHECK in exec form that asks a URL"""
    healthcheck(dockerfile_of(exercise))


@HEALTHCHECK
async def test_the_healthcheck_asks_a_get_route(exercise: ModuleType) -> None:
    """the healthcheck's URL path is a GET route of the app, which answers 200"""
    check = healthcheck(dockerfile_of(exercise))
    url = urlsplit(check.url)
    target = (url.path or "/") + (f"?{url.query}" if url.query else "")
    routes = [
        route.path
        for route in exercise.app.routes
        if isinstance(route, Route) and "GET" in (route.methods or ())
    ]
    async with running(exercise.app, raise_app_exceptions=False) as (client, _):
        response = await client.get(target)
    expect_status(
        response,
        200,
        help=f"Is {url.path or '/'} a route of the app? The HEALTHCHECK asks {check.url}; "
        f"the app's GET routes are {', '.join(routes) or 'none'}.",
    )


@pytest.mark.requires(
    "test_the_healthcheck_is_in_exec_form", "test_the_cmd_runs_fastapi_in_exec_form"
)
def test_the_healthcheck_asks_the_served_port(exercise: ModuleType) -> None:
    """the healthcheck asks the container itself, on the port the server listens on"""
    dockerfile = dockerfile_of(exercise)
    check, serving = healthcheck(dockerfile), served(dockerfile)
    url = urlsplit(check.url)
    if url.scheme != "http" or url.hostname not in LOCAL_HOSTS:
        raise Failure(
            f"expected http://127.0.0.1 (or localhost), not {url.scheme}://{url.hostname}: "
            f"{check.instruction}",
            help="The healthcheck runs inside the container: it asks the server there, "
            "over plain HTTP.",
        )
    try:
        port = str(url.port or 80)
    except ValueError:
        port = url.netloc.rpartition(":")[2]
    if port != serving.port:
        raise Failure(
            f"expected the healthcheck on port {serving.port} (served by {serving.cmd}), "
            f"not {port}: {check.instruction}"
        )


@PARSES
def test_no_secrets_baked_in(exercise: ModuleType) -> None:
    """no ENV or ARG named like a secret (SECRET, PASSWORD, TOKEN, KEY) is given a value"""
    dockerfile = dockerfile_of(exercise)
    every = dockerfile.global_args + [i for stage in dockerfile.stages for i in stage.instructions]
    for instruction in every:
        if instruction.keyword not in ("ENV", "ARG"):
            continue
        for name, raw in pairs(instruction):
            if raw and any(word in name.upper() for word in SECRET_WORDS):
                raise Failure(
                    f"expected no value for {name} in the image, not {instruction}",
                    help="Whatever ENV and ARG set stays readable in the image (docker "
                    "history, docker inspect). Give secrets to the running container instead.",
                )

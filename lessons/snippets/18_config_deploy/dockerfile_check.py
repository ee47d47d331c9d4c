"""A Dockerfile read as data: parsed into instructions, then checked rule by rule."""

import json
from dataclasses import dataclass


# --8<-- [start:parse]
@dataclass(frozen=True)
class Instruction:
    keyword: str  # FROM, RUN, CMD, ... in upper case
    arguments: str  # the rest of the line, continuation lines joined
    stage: int  # 0 for the first FROM and what follows it, 1 for the next one...


def parse(text: str) -> list[Instruction]:
    instructions: list[Instruction] = []
    stage, pending = -1, ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):  # comments, directives, blank lines
            continue
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        keyword, _, arguments = (pending + line).partition(" ")
        pending = ""
        if keyword.upper() == "FROM":
            stage += 1
        instructions.append(Instruction(keyword.upper(), arguments.strip(), stage))
    return instructions


def exec_form(arguments: str) -> list[str] | None:
    """The command as a list if it is a JSON array of strings; None for the shell form."""
    try:
        value = json.loads(arguments)
    except json.JSONDecodeError:
        return None  # Docker runs anything that is not valid JSON through /bin/sh -c
    if isinstance(value, list) and all(isinstance(part, str) for part in value):
        return value
    return None


# --8<-- [end:parse]


# --8<-- [start:checks]
def option(command: list[str], name: str, default: str) -> str:
    return command[command.index(name) + 1] if name in command else default


def mounted(run: Instruction) -> list[str]:
    """What a RUN bind-mounts from the build context: --mount=type=bind,source=uv.lock,..."""
    sources: list[str] = []
    for word in run.arguments.split():
        if not word.startswith("--"):
            break  # the options end where the command starts
        if word.startswith("--mount="):
            parts = (part.partition("=") for part in word.removeprefix("--mount=").split(","))
            mount = {key: value for key, _, value in parts}
            if mount.get("type", "bind") == "bind" and "from" not in mount:
                sources.append(mount.get("source", mount.get("src", ".")))  # "." is everything
    return sources


def problems(text: str) -> list[str]:
    instructions = parse(text)
    last = max(i.stage for i in instructions)
    final = [i for i in instructions if i.stage == last]
    found = []
    if last < 1:
        found.append("one stage: the build tools and caches ship in the image")
    users = [i.arguments.split(":")[0] for i in final if i.keyword == "USER"]
    if not users or not users[-1].isdigit() or users[-1] == "0":
        found.append("the final stage must end on a numeric USER that is not 0")
    syncs = [n for n, i in enumerate(instructions) if "uv sync" in i.arguments]
    if not syncs or any("--locked" not in instructions[n].arguments for n in syncs):
        found.append("every uv sync must be --locked")
    if syncs:  # what the dependency layer sees of the build context: copied, or mounted
        lock_files = {"pyproject.toml", "uv.lock"}
        copied = [
            word
            for i in instructions[: syncs[0]]
            if i.keyword in ("COPY", "ADD") and "--from" not in i.arguments
            for word in i.arguments.split()[:-1]
            if not word.startswith("--")
        ]
        sources = set(copied + mounted(instructions[syncs[0]]))
        if sources - lock_files:
            found.append("the code reaches the dependency layer")
        elif sources != lock_files:
            found.append(
                "pyproject.toml and uv.lock must reach the dependency layer, copied or mounted"
            )
    if not any(i.keyword == "HEALTHCHECK" for i in final):
        found.append("no HEALTHCHECK in the final stage")
    cmds = [exec_form(i.arguments) for i in final if i.keyword == "CMD"]
    command = cmds[-1] if cmds else None
    if command is None:
        found.append("CMD must be in exec form")
    elif command[:2] != ["fastapi", "run"] or {"--reload", "--workers"} & set(command):
        found.append("CMD must be `fastapi run`, without --reload or --workers")
    exposed = [i.arguments for i in final if i.keyword == "EXPOSE"]
    if command and exposed != [option(command, "--port", "8000")]:
        found.append("EXPOSE must name the port the server listens on")
    return found


# --8<-- [end:checks]

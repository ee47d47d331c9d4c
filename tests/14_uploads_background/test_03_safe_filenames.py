"""Hidden suite for 14_uploads_background/03_safe_filenames: names you can trust.

`safe_name` is called directly with a table of plain and unsafe names, and with names that
hypothesis builds from the pieces of the traversal zoo (whatever the name: a refusal, or a
plain name stored under a new one, and the same verdict as the reference's). The app is
driven over HTTP with multipart bodies written byte by byte here: httpx percent-encodes
quotes and control characters in a file name, and the multipart parser drops a `C:\\...`
prefix, so only a body written by hand delivers the name a check means. Every app stores in
a folder inside the check's tmp_path, and every check that uploads looks at the whole
tmp_path afterwards: nothing may be written outside that folder.
"""

import os
import re
from pathlib import Path, PurePosixPath, PureWindowsPath
from types import ModuleType
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from workbook.testing import (
    Failure,
    client_for,
    expect,
    expect_equal,
    expect_json,
    expect_status,
    response_json,
)

MAX = 100
BOUNDARY = "workbook-boundary-7f3a"
NEW_NAME = re.compile(r"[0-9a-f]{32}\.(csv|jpeg|jpg|pdf|png|txt)")
REFUSED_BODY = {"detail": "Unsafe file name."}
BIG = bytes(range(256)) * 800  # 200 KiB: more than one read of the spooled file

SEPARATOR = (
    "Does safe_name refuse every name that holds one of SEPARATORS (/, \\ or :)? "
    "os.path.basename cuts only at / on Linux, and cutting a path hides the attack instead "
    "of refusing it."
)
CONTROL = (
    'Does safe_name refuse every character whose unicodedata.category is "Cc" (NUL, U+0001 '
    "to U+001F, U+007F to U+009F)? Cutting the name at NUL, as C does, is not refusing it."
)
LEADING_DOT = "Does safe_name refuse a name that starts with a dot?"
RESERVED = (
    "Is the part before the first dot, upper-cased, looked up in RESERVED_NAMES? "
    "con.txt and Nul.tar.txt are device names on Windows too, in any case."
)
EXTENSION = (
    "Is the extension the text after the last dot, lower-cased before it is looked up in "
    "ALLOWED_EXTENSIONS, and is a name without a dot refused?"
)
ONLY_THESE = (
    "Does safe_name refuse more than the contract lists? COM10 and CONSOLE are no device "
    "names, U+00A0 and ~ no control characters, and 100 characters are not too many."
)
LENGTH = "A name of MAX_NAME_LENGTH (100) characters is accepted; one more is refused."
NEW = (
    "safe_name returns a new name: uuid.uuid4().hex, a dot, and the lower-cased extension, "
    "never the client's name."
)
NOT_CAUGHT = (
    'Does the route catch UnsafeName and answer HTTPException(422, "Unsafe file name.") '
    "before it opens any file?"
)
WRITTEN_FIRST = (
    "A refused upload left a file behind: is the name checked before anything is written?"
)

# names with the one rule they break, so that a missing rule shows on its own
UNSAFE = [
    ("a/../../escape.txt", SEPARATOR),
    ("/etc/cron.txt", SEPARATOR),
    ("sub/inner.txt", SEPARATOR),
    ("a\\..\\..\\escape.txt", SEPARATOR),
    ("C:\\Windows\\win.txt", SEPARATOR),
    ("\\\\server\\share\\x.txt", SEPARATOR),
    ("C:x.txt", SEPARATOR),
    ("notes:hidden.txt", SEPARATOR),
    ("a\x00.txt", CONTROL),
    ("notes.txt\x00.png", CONTROL),
    ("a\x01.txt", CONTROL),
    ("a\t.txt", CONTROL),
    ("a\n.txt", CONTROL),
    ("a\x1f.txt", CONTROL),
    ("a\x7f.txt", CONTROL),
    ("a\x85.txt", CONTROL),
    ("a\x9f.txt", CONTROL),
    (".txt", LEADING_DOT),
    ("..txt", LEADING_DOT),
    (".hidden.png", LEADING_DOT),
    ("con.txt", RESERVED),
    ("CON.txt", RESERVED),
    ("Con.Txt", RESERVED),
    ("nul.tar.txt", RESERVED),
    ("aux.pdf", RESERVED),
    ("PRN.csv", RESERVED),
    ("com1.png", RESERVED),
    ("COM9.jpg", RESERVED),
    ("lpt1.txt", RESERVED),
    ("Lpt9.jpeg", RESERVED),
    ("", EXTENSION),
    ("CON", EXTENSION),
    ("notes", EXTENSION),
    ("txt", EXTENSION),
    ("PDF", EXTENSION),
    ("notes.exe", EXTENSION),
    ("notes.txt.exe", EXTENSION),
    ("notes.", EXTENSION),
    ("notes.txt.", EXTENSION),
    ("notes.txt ", EXTENSION),
    ("notes. txt", EXTENSION),
    ("x" * (MAX - 3) + ".txt", LENGTH),
    ("x" * (MAX + 10) + ".txt", LENGTH),
]

PLAIN = [
    ("notes.txt", "txt"),
    ("Report.PDF", "pdf"),
    ("photo.JpEg", "jpeg"),
    ("scan.jpg", "jpg"),
    ("DATA.CSV", "csv"),
    ("image.png", "png"),
    ("archive.tar.txt", "txt"),
    ("notes.txt.PNG", "png"),
    ("a..txt", "txt"),
    (" notes.txt", "txt"),
    ("two words.txt", "txt"),
    ("café-àçé.png", "png"),
    ("a~b.txt", "txt"),
    ("a\xa0b.txt", "txt"),
    ("COM10.txt", "txt"),
    ("com0.txt", "txt"),
    ("LPT10.pdf", "pdf"),
    ("lpt0.pdf", "pdf"),
    ("CONSOLE.txt", "txt"),
    ("nul-report.txt", "txt"),
    ("x" * (MAX - 4) + ".txt", "txt"),
]

PIECES = st.sampled_from(
    [
        *["..", ".", "/", "\\", ":", "C:", "~"],
        *["con", "NUL", "Lpt9", "com0", "COM10", "a", "é", " ", "-"],
        *["\x00", "\x1f", "\x7f", "\x9f", "\xa0", "\n"],
        *["txt", "PDF", "Jpeg", "exe", "tar", "csv"],
    ]
)
DEVICES = st.sampled_from(["con", "NUL", "Aux", "prn", "Lpt9", "com1", "com0", "COM10"])
STEMS = st.lists(PIECES, max_size=5).map("".join)
EXTENSIONS = st.sampled_from(["txt", "PDF", "Jpeg", "csv", "png", "exe", "tar", ""])
ENDS = st.sampled_from(["", "", "", " ", ".", "\x00", "\x85"])
NAMES = st.one_of(
    st.lists(PIECES, max_size=8).map("".join),
    st.builds("{}.{}{}".format, STEMS, EXTENSIONS, ENDS),  # mostly names that look fine
    st.builds("{}{}.{}".format, DEVICES, st.sampled_from(["", ".tar", " ", "1"]), EXTENSIONS),
    st.text(max_size=12),
    st.integers(MAX - 8, MAX + 4).map(lambda size: "x" * size + ".txt"),
)
HYPOTHESIS = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=400,
    report_multiple_bugs=False,
    phases=[Phase.generate, Phase.shrink],
)


def label(name: str) -> str:
    """A test id that shows every character: backslashes and controls percent-encoded."""
    if len(name) > MAX // 2:
        return f"{len(name)} characters"
    return quote(name, safe="/:.~- ") if name else "(empty)"


def accepted(exercise: ModuleType, name: str, help: str | None = None) -> str:
    """What safe_name returns for a name it must accept."""
    try:
        result = exercise.safe_name(name)
    except exercise.UnsafeName as error:
        raise Failure(
            f"expected {name!r} to be accepted, not refused ({error})", help=help
        ) from None
    except Exception as error:
        raise Failure(
            f"expected {name!r} to be accepted, not {type(error).__name__}: {error}"
        ) from None
    expect(isinstance(result, str), f"expected safe_name to return a str, not {result!r}")
    return result


def refused(exercise: ModuleType, name: str) -> bool:
    """Whether safe_name refuses the name; any exception but UnsafeName fails the check."""
    try:
        exercise.safe_name(name)
    except exercise.UnsafeName as error:
        expect(str(error), f"expected UnsafeName for {name!r} to carry a message saying why")
        return True
    except Exception as error:
        raise Failure(
            f"expected safe_name({name!r}) to raise UnsafeName or return a name, "
            f"not {type(error).__name__}: {error}"
        ) from None
    return False


def expect_new_name(name: str, result: str, extension: str) -> None:
    expect(
        NEW_NAME.fullmatch(result) and result.endswith(f".{extension}"),
        f"expected {name!r} to give 32 lowercase hex digits and .{extension}, not {result!r}",
        help=NEW,
    )


def plain_segment(name: str) -> bool:
    """One plain path segment on POSIX and on Windows alike, free of control characters."""
    return (
        name not in {"", ".", ".."}
        and PurePosixPath(name).name == name
        and PureWindowsPath(name).name == name
        and not PureWindowsPath(name).drive
        and all(ord(char) >= 0x20 and not 0x7F <= ord(char) <= 0x9F for char in name)
    )


# -- safe_name, called directly -----------------------------------------------------------


@pytest.mark.parametrize(("name", "help"), UNSAFE, ids=[label(name) for name, _ in UNSAFE])
def test_unsafe_name_refused(exercise, name, help):
    """safe_name refuses a name that is not plainly a file name (UnsafeName)"""
    if not refused(exercise, name):
        raise Failure(
            f"expected {name!r} to be refused with UnsafeName, but it was accepted", help=help
        )


@pytest.mark.parametrize(("name", "extension"), PLAIN, ids=[label(name) for name, _ in PLAIN])
def test_plain_name_gets_a_new_name(exercise, name, extension):
    """safe_name accepts a plain name and returns a new one: 32 hex digits and its extension"""
    expect_new_name(name, accepted(exercise, name, help=ONLY_THESE), extension)


def test_new_name_every_call(exercise):
    """the same name twice gives two different new names"""
    first, second = (accepted(exercise, "notes.txt") for _ in range(2))
    expect_new_name("notes.txt", first, "txt")
    expect(first != second, f"expected two different names, not {first!r} twice", help=NEW)


@HYPOTHESIS
@given(NAMES)
def test_any_name_refused_or_plain(exercise, name):
    """whatever the name: refused, or a plain file name stored under a new name in the folder"""
    if refused(exercise, name):
        return
    expect(
        plain_segment(name),
        f"expected {name!r} to be refused: it is not one plain name on POSIX and Windows",
        help=SEPARATOR if any(char in "/\\:" for char in name) else CONTROL,
    )
    result = exercise.safe_name(name)
    expect_new_name(name, result, name.rpartition(".")[2].lower())
    inside = os.path.normpath(os.path.join("/srv/uploads", result))
    expect_equal("the folder of the stored file", "/srv/uploads", os.path.dirname(inside))


@HYPOTHESIS
@given(NAMES)
def test_any_name_as_the_reference(exercise, reference, name):
    """whatever the name, safe_name refuses it exactly when the contract does"""
    expected, actual = refused(reference, name), refused(exercise, name)
    if expected != actual:
        verdict = {True: "refused", False: "accepted"}
        raise Failure(
            f"expected {name!r} to be {verdict[expected]}, as the contract says, "
            f"not {verdict[actual]}",
            help=ONLY_THESE if expected is False else None,
        )


# -- the app, over HTTP ----------------------------------------------------------------------


def multipart(name: str, content: bytes) -> dict[str, Any]:
    """A form with one file field `file`, its name sent as these exact characters."""
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    head = (
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{quoted}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    )
    body = head.encode() + content + f"\r\n--{BOUNDARY}--\r\n".encode()
    return {
        "content": body,
        "headers": {"content-type": f"multipart/form-data; boundary={BOUNDARY}"},
    }


def files_under(root: Path) -> list[str]:
    """Every file below root, as paths relative to it."""
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "uploads"
    path.mkdir()
    return path


@pytest.mark.parametrize(
    ("name", "content", "extension"),
    [("notes.txt", b"hello\n", "txt"), ("Report.PDF", BIG, "pdf"), ("empty.csv", b"", "csv")],
    ids=["small", "200 KiB", "empty"],
)
async def test_upload_stored_under_a_new_name(exercise, folder, tmp_path, name, content, extension):
    """POST /files answers 201 and stores the bytes under the new name in the folder"""
    async with client_for(exercise.create_app(folder), raise_app_exceptions=False) as client:
        response = await client.post("/files", **multipart(name, content))
    expect_status(response, 201)
    body = response_json(response)
    stored_as = body.get("stored_as") if isinstance(body, dict) else None
    expect_json(response, {"name": name, "stored_as": stored_as, "size": len(content)})
    expect_new_name(name, str(stored_as), extension)
    expect_equal("files written", [f"uploads/{stored_as}"], files_under(tmp_path))
    expect(
        (folder / str(stored_as)).read_bytes() == content,
        "expected the stored bytes to be the upload's",
    )


async def test_same_name_twice_kept_apart(exercise, folder, tmp_path):
    """two uploads with the same name are stored as two files"""
    async with client_for(exercise.create_app(folder), raise_app_exceptions=False) as client:
        first = await client.post("/files", **multipart("notes.txt", b"first"))
        second = await client.post("/files", **multipart("notes.txt", b"second"))
    expect_status(first, 201)
    expect_status(second, 201, help=NEW)
    names = [response_json(first).get("stored_as"), response_json(second).get("stored_as")]
    expect(names[0] != names[1], f"expected two different stored names, not {names}", help=NEW)
    expect_equal(
        "files written", sorted(f"uploads/{name}" for name in names), files_under(tmp_path)
    )
    expect_equal(
        "the bytes stored", [b"first", b"second"], [(folder / name).read_bytes() for name in names]
    )


UNSAFE_UPLOADS = [
    "../escape.txt",
    "../../escape.txt",
    "..\\escape.txt",
    "ABSOLUTE",
    "sub/inner.txt",
    "a\x00.txt",
    "a\x1f.txt",
    ".env.txt",
    "con.txt",
    "LPT1.pdf",
    "",
    "notes.exe",
    "notes.txt ",
    "x" * (MAX - 3) + ".txt",
]


@pytest.mark.parametrize("name", UNSAFE_UPLOADS, ids=[label(name) for name in UNSAFE_UPLOADS])
async def test_unsafe_upload_refused(exercise, tmp_path, name):
    """an upload with an unsafe name answers 422 and writes nothing anywhere"""
    folder = tmp_path / "deep" / "er" / "uploads"  # so that ../.. stays in tmp_path
    folder.mkdir(parents=True)
    if name == "ABSOLUTE":
        name = str(tmp_path / "absolute.txt")
    async with client_for(exercise.create_app(folder), raise_app_exceptions=False) as client:
        response = await client.post("/files", **multipart(name, b"attack"))
    written = files_under(tmp_path)
    expect_status(response, 422, help=NOT_CAUGHT)
    expect_json(response, REFUSED_BODY, help=NOT_CAUGHT)
    expect_equal("files written", [], written, help=WRITTEN_FIRST)


@pytest.mark.stub_may_pass("FastAPI itself answers a form without a file")
async def test_form_without_a_file(exercise, folder, tmp_path):
    """a form without a file field gets FastAPI's own 422, and nothing is written"""
    body = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="other"\r\n\r\n'
        f"x\r\n--{BOUNDARY}--\r\n"
    )
    headers = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}
    async with client_for(exercise.create_app(folder), raise_app_exceptions=False) as client:
        response = await client.post("/files", content=body.encode(), headers=headers)
    expect_status(response, 422)
    detail = response_json(response).get("detail")
    expect(
        isinstance(detail, list) and detail and detail[0].get("loc") == ["body", "file"],
        f"expected FastAPI's validation error for body.file, not {detail!r}",
    )
    expect_equal("files written", [], files_under(tmp_path))

"""The files ``workbook autograder`` writes: the platforms' scripts, workflow and notes.

Each is a ``str.format`` template; :mod:`workbook.autograder` fills in the Python and uv
versions and whether a release manifest came along.
"""

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image; this zip is
# unpacked in /autograder/source.  The default base image is Ubuntu 22.04, whose Python
# (3.10) is older than the workbook needs: uv installs Python {python} and the locked
# dependencies into /autograder/source/.venv.  The build has network access; grading
# never needs it.
set -euo pipefail
source_dir=/autograder/source
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends ca-certificates curl
export UV_UNMANAGED_INSTALL=/opt/uv UV_PYTHON_INSTALL_DIR=/opt/uv/python
export UV_CACHE_DIR=/tmp/uv-cache
curl -LsSf {uv_installer} | sh
/opt/uv/uv sync --frozen --no-default-groups --project "$source_dir" --python {python}
rm -rf "$UV_CACHE_DIR"
chmod +x "$source_dir/run_autograder"
# student code is graded as the unprivileged account nobody (see run_autograder): it must
# read the grader, its Python and its packages, and write none of them
chmod -R a+rX,go-w "$source_dir" /opt/uv
# prove the grader before any student submits: the catalog loads, a grading child passes
# the reference solution of the first exercise, and nobody can run the grader
cd "$source_dir"
"$source_dir/.venv/bin/python" -m workbook --root "$source_dir" check {first} --target solutions
"$source_dir/.venv/bin/python" -m workbook --root "$source_dir" grade "$source_dir" \\
  --run-as nobody --format json --output /dev/null || [ $? -eq 1 ]
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission (copied to /autograder/run_autograder, from
# /autograder): it grades /autograder/submission with the suites in /autograder/source
# and writes /autograder/results/results.json.  Whatever happens, a results.json is
# written.  Run as root (as Gradescope does), it grades student code as the account
# nobody, so that the code cannot write the grader's files or the results
# (WORKBOOK_RUN_AS names another account; empty turns this off).  To try it elsewhere,
# give another root with the same layout as the first argument (or WORKBOOK_AUTOGRADER)
# and a Python with the workbook's dependencies as WORKBOOK_PYTHON.
set -uo pipefail
root="${{1:-${{WORKBOOK_AUTOGRADER:-/autograder}}}}"
source_dir="$root/source"
results="$root/results/results.json"
python="${{WORKBOOK_PYTHON:-$source_dir/.venv/bin/python}}"
mkdir -p "$root/results"
rm -f "$results"
manifest=()
if [ -f "$source_dir/{manifest}" ]; then
  manifest=(--manifest "$source_dir/{manifest}")
fi
run_as=()
account="${{WORKBOOK_RUN_AS-nobody}}"
if [ "$(id -u)" = 0 ] && [ -n "$account" ]; then
  run_as=(--run-as "$account")
fi
cd "$source_dir" || exit 1
"$python" -m workbook --root "$source_dir" grade "$root/submission" --format gradescope \\
  --output "$results" --jobs "${{WORKBOOK_JOBS:-2}}" "${{manifest[@]}}" "${{run_as[@]}}"
echo "workbook grade exited with $?"
if [ ! -s "$results" ]; then
  cat > "$results" <<'JSON'
{fallback}
JSON
fi
exit 0
"""

FALLBACK = (
    '{"score": 0, "visibility": "visible", "tests": [], "output": "The autograder could not '
    'grade this submission. Your instructor can see why; please tell them too."}'
)

WORKFLOW = """\
# Autograding for GitHub Classroom (written by `workbook autograder`).  On every push it
# grades this repository with the instructor's hidden suites, checked out from the private
# repository named by the variable WORKBOOK_GRADER_REPOSITORY with the read-only token in
# the secret WORKBOOK_GRADER_TOKEN, and reports the score to GitHub Classroom.
name: Autograding Tests
"on":
  - push
  - workflow_dispatch
  - repository_dispatch
permissions:
  checks: write
  actions: read
  contents: read
jobs:
  run-autograding-tests:
    runs-on: ubuntu-latest
    if: github.actor != 'github-classroom[bot]'
    timeout-minutes: 40
    steps:
      - name: Check out the submission
        uses: actions/checkout@v4
        with:
          path: submission
          persist-credentials: false
      - name: Check out the grader
        uses: actions/checkout@v4
        with:
          repository: ${{{{ vars.WORKBOOK_GRADER_REPOSITORY }}}}
          token: ${{{{ secrets.WORKBOOK_GRADER_TOKEN }}}}
          path: grader
          persist-credentials: false
      - name: Install the grader
        run: |
          curl -LsSf {uv_installer} | env UV_UNMANAGED_INSTALL="$RUNNER_TEMP/uv" sh
          "$RUNNER_TEMP/uv/uv" sync --frozen --no-default-groups --project grader --python {python}
      - name: Grade
        id: workbook
        run: >-
          grader/.venv/bin/workbook --root grader grade submission
          --format github-classroom --output "$RUNNER_TEMP/result.json"{manifest}
      - name: Autograding Reporter
        if: always()
        uses: classroom-resources/autograding-grading-reporter@v1
        env:
          WORKBOOK_RESULTS: "${{{{ steps.workbook.outputs.result }}}}"
        with:
          runners: workbook
"""

GRADESCOPE_README = """\
# {title}: Gradescope autograder

Upload `gradescope.zip` (beside this folder; `setup.sh` and `run_autograder` are at its
root) as the autograder of a programming assignment, on the default Ubuntu 22.04 base
image.  Set the autograder timeout to cover every exercise (up to 40 minutes).

Students submit their whole workbook folder (upload or GitHub): Gradescope puts it in
`/autograder/submission`; `run_autograder` grades it with `workbook grade --format
gradescope` and writes `/autograder/results/results.json`.  Only the files under
`exercises/` count; {manifest_note}

Gradescope runs the autograder as root, one container per submission; `run_autograder`
grades the student's code as the account `nobody` (`workbook grade --run-as nobody`), so
that it can neither change the grader's files nor write the results itself.  It can still
read the hidden suites and the reference solutions, which its own grading needs.

This folder holds the hidden suites and the reference solutions: keep it out of every
repository students can read.
"""

CLASSROOM_README = """\
# {title}: GitHub Classroom autograding

1. Push `grader/` to a new **private** repository of your organisation.  It holds the
   hidden suites and the reference solutions: students must never read it.
2. Create a fine-grained token that can only read that repository.  In the classroom's
   organisation, add the secret `WORKBOOK_GRADER_TOKEN` (the token) and the variable
   `WORKBOOK_GRADER_REPOSITORY` (`owner/name` of that repository), both available to the
   assignment repositories.
3. Add `template/.github/workflows/classroom.yml` to the assignment's template repository
   (the student edition), and protect `.github/` in the assignment settings.

Each push grades the student's repository with `workbook grade --format github-classroom`
and reports the score to GitHub Classroom.  {manifest_note}  A student who edits the
workflow can make it print what the token reads: protected paths flag such an edit, and
`workbook grade` on the collected repositories is the grade to trust.
"""

MANIFEST_KEPT = (
    "locked files that differ from the released ones are reported, and graded with the "
    "released copies."
)
MANIFEST_MISSING = (
    "no release manifest was found, so locked files are not compared: run `workbook "
    "release` first, then write the bundle again."
)
NO_TOOLING = "no {files} beside the catalog: the platforms cannot install the grader from it"

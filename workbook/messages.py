"""Every sentence a learner reads from the grader, in one place and one voice."""

# -- how a run ended ------------------------------------------------------------------
NOT_RUN = "not run: the run stopped before this check"
OUTPUT_FLOOD = "your code printed far too much output, so the run was stopped"
TEST_HUNG = (
    "“{requirement}” never finished, so the run was stopped: something waits forever or loops"
)
RUN_TIMEOUT = "the whole run took longer than {seconds:g} s, so it was stopped"
CHANNEL_LOST = "the run stopped reporting before it finished"
EXITED_EARLY = (
    "the run ended early with exit code {code}: does your code call sys.exit() or os._exit()?"
)
KILLED = "the run was killed by signal {signal}"
KILLED_BY_SIGNAL = {
    "SIGSEGV": "the run crashed with a segmentation fault (signal SIGSEGV)",
    "SIGBUS": "the run crashed with a bus error (signal SIGBUS)",
    "SIGABRT": "the run aborted (signal SIGABRT)",
    "SIGKILL": "the run was killed (signal SIGKILL): did it run out of memory?",
    "SIGXFSZ": "your code wrote more output than the grader allows (signal SIGXFSZ)",
}
STOPPED_FIRST = "not run: the run stopped at the first failing check"
MISSING_RESULTS = "some checks never reported a result, so they count as not passed"
NOTHING_COLLECTED = "the hidden suite has no checks: this is a problem in the workbook itself"
CHANNEL_FORGED = "writes to the grader's result channel"
FLAGGED_AT_RUN_TIME = "A graded run holds this for the instructor's review: your code {reason}"
RESULTS_UNTRUSTED = (
    "the run was stopped and counts as not passed: your code {reason}, so its results "
    "cannot be trusted"
)

# -- code under test that exits instead of raising an error ----------------------------
EXITED = "your code raised {raised}{when}: {advice}"
EXIT_ADVICE = {
    "SystemExit": "an app should raise an error, not exit the process",
    "KeyboardInterrupt": (
        "KeyboardInterrupt stands for Ctrl-C: an app should raise an ordinary error"
    ),
    "GeneratorExit": "GeneratorExit only closes a generator: an app should raise an ordinary error",
}
EXIT_GROUP = "an exception group holding {leaf}"
EXITED_STARTING = "while the app started"
EXITED_RUNNING = "while the app ran"
EXITED_STOPPING = "while the app shut down"
EXITED_ANSWERING = "while the app answered {request}"
EXITED_AFTER_ANSWER = (
    "after the app answered {request} "
    "(in a background task, or a dependency's code after its yield?)"
)
EXITED_IN_TASK = "in a task it started"
EXITED_IMPORTING = "while the file was imported"
IMPORT_EXITED = "importing the file failed: {failure}"

# -- the CLI ---------------------------------------------------------------------------
NO_ROOT = "No curriculum.toml here or above: run this inside the workbook (or pass --root)."
CATALOG_BROKEN = "The grader itself failed: its catalog, curriculum.toml, has problems:"
UNKNOWN_EXERCISE = "No exercise matches “{fragment}”. `workbook list` shows every id."
AMBIGUOUS_EXERCISE = "“{fragment}” matches several exercises: {matches}. Be more specific."
ALL_DONE = "Every exercise is done."
CHECKED_THEN_NEXT = "That was {done}. `workbook check` now grades the next one: {id}."
NEXT_UP = "Next up"
GRADER_FAILED = (
    "The grader itself failed, so this says nothing about your code. "
    "Please report it with this message:"
)
NOT_CHECKED = "not checked"
IMPORT_FAILED = "your file could not be imported, so no requirement could be checked"
NOT_CHECKED_UNTIL_IMPORT = "not checked until the file imports: {count} more"
PASSED_BANNER = "All requirements met. Exercise done ✓"
COMPARE_SOLUTION = "Compare with the reference: workbook solution {id}"
PUBLIC_PASSED_BANNER = "The public checks pass ✓"
PUBLIC_CHECKS_ONLY = (
    "These are the exercise's public checks. Your instructor grades it with every "
    "requirement, these included: read its contract in the file's docstring."
)
SOLUTION_FROM_INSTRUCTOR = (
    "This is the student edition: the reference solutions come from your instructor."
)
AUTHORS_ONLY = "`workbook {command}` is for the workbook's authors; this is the student edition."
RELEASE_REFUSED = "Not released:"
RELEASE_DONE = "Wrote the student edition to {path}: {count} files, nothing hidden in them."
FIRST_HINT_PROMPT = "Stuck? `workbook hint {id}` reveals the next hint."
FAILING_NOW = "failing now"
PASSED_BEFORE = (
    "Passing before, failing now: this exercise passed once (that pass is kept), and the "
    "file as it is now does not."
)
HINT_HEADER = "Hint {level} of {total}"
LAST_HINT_SUFFIX = "Read: {link}"
NO_MORE_HINTS = "That was the last hint; the lesson section has the rest."
LESSON = "Lesson"
PROGRESS = "Progress"
YOUR_OUTPUT = "your code printed"
SOLUTION_LOCKED = (
    "The reference solution opens once your exercise passes. "
    "Keep at it, or peek with `workbook solution {id} --force` (the peek is recorded)."
)
SOLUTION_PEEK_CONFIRM = (
    "Peek at the reference before passing? The peek is recorded in your progress."
)
SOLUTION_PEEK_NEEDS_YES = "Not asking without a terminal: add --yes to confirm the peek."
RESET_NEEDS_YES = "Not asking without a terminal: add --yes to confirm the reset."
RESET_CONFIRM = "Reset {what} to the pristine stub? Your changes there are lost."
RESET_DONE = "Restored {path}."
RESET_NO_PRISTINE = "No pristine copy of {path} is known (neither in git nor saved): nothing reset."
SKIPPED = "Skipped {id}. `workbook list` shows it as skipped; check it any time."
STATUS_WORDS = {
    "passed": "passed",
    "failed": "not passed yet",
    "error": "your file has an error",
    "timeout": "timed out",
    "crashed": "crashed",
}
VERIFY_OK = "Everything verifies: solutions pass; stubs, known-wrong variants and mutants fail."
VERIFY_RUNNING = "verifying"
VERIFY_NEEDS_TOOLS = (
    "verify needs the authors' tools ({missing} is missing): run `python3 bootstrap.py test` "
    "once, which installs them"
)
VERIFY_BAD = "Verification found problems:"

# -- watch mode ------------------------------------------------------------------------
WATCH_KEYS = "h hint · l list · c check all · r reset · e edit · q quit"
WATCH_KEYS_MANUAL = "enter check · " + WATCH_KEYS
WATCH_KEYS_PASSED = "n next exercise · s compare with the reference · " + WATCH_KEYS
WATCH_CHECKING = "⟳ checking…"
WATCH_QUEUED = "saved again while checking: one more check follows"
WATCH_SAVE_TO_CHECK = "Save the file to check it again."
WATCH_ENTER_TO_CHECK = "Press enter to check it again."
WATCH_HINT_MORE = "Press h for the next hint."
WATCH_POLLING = "Watching by polling: {reason}."
WATCH_PROBE_FAILED = "File events did not arrive here, so watch polls for changes instead."
WATCH_BUSY = "Still checking; try again in a moment."
WATCH_RESET_ASK = "Reset {id} to its pristine stub? Your changes there are lost. (y/n)"
WATCH_RESET_DONE = "Restored the pristine stub."
WATCH_NO_EDITOR = "No editor known: set $VISUAL or $EDITOR, or start watch with --edit-cmd."
WATCH_NOT_PASSED = "The reference opens once this exercise passes."
WATCH_KEYS_STUDENT_PASSED = "n next exercise · " + WATCH_KEYS
WATCH_CHECK_ALL = "Checked every exercise: {done} of {total} pass."
WATCH_FIRST_PENDING = "First one still to do: {id}."
WATCH_FINAL_CHECK = "That was the last one! Checking every exercise once more…"
WATCH_REGRESSED = "{count} exercise(s) no longer pass: back to {id}."
WATCH_BYE = "Progress saved. Run `workbook watch` to pick up where you left off."
WATCH_NEEDS_TERMINAL = "watch needs a terminal; use `workbook check` in scripts."

# -- the site ---------------------------------------------------------------------------
DOCS_BUILDING = "Building the site; the first build runs every notebook, so give it a moment…"
DOCS_SERVING = "Serving the lessons at {url} (Ctrl-C to stop)."
DOCS_FAILED = "The site did not start: see the messages above (is the port in use?)."

# -- workbook grade (the instructor's, and what students see of it) ----------------------
GRADE_RUNNING = "grading"
GRADE_NO_MANIFEST = (
    "no release manifest (.workbook/release/LOCKED.sha256 or --manifest): locked files "
    "were not compared"
)
GRADE_INSTRUCTOR_CHANGED = (
    "the instructor's catalog, suites or solutions changed while grading: a submission may "
    "have written to them, so these grades cannot be trusted"
)
GRADE_MISSING = "{path} is not in the submission"
GRADE_LINKED = "{path} is a symbolic link (or holds one), which grading never follows"
GRADE_NOT_ATTEMPTED = "not attempted: the file is still the stub"
GRADE_GRADER_ERROR = "the grader failed, not the submission: {error}"
GRADE_NO_ACCOUNT = "--run-as {name}: there is no such account on this machine"
GRADE_ACCOUNT_FAILED = (
    "--run-as {name}: that account cannot run the grader ({why}); it must be able to read "
    "the workbook, its Python and its packages, and starting it needs root"
)
GRADE_AT_RUN_TIME = "{reason} (seen at run time)"
GRADE_FLAGGED = "held for your instructor's review: this file reaches into the grader"
GRADE_TAMPERED = (
    "{count} locked file(s) differ from the released ones; grading used the released copies"
)
GRADE_USAGE_OUTPUT = "several submissions in the {format} format need --output FOLDER"
GRADE_FORMATS = "--format must be one of: {formats}"

"""The `ragrun` command line: run a pipeline, validate, draw, print schemas, list components.

`ragrun FILE ...` is short for `ragrun run FILE ...`. Only click is imported with this module; the
loader, the executor and everything they pull in are imported inside the command that needs them,
so `ragrun --help` and `ragrun validate` start fast and never load torch, openai or ray.

Exit codes are decided in one place, `exit_code_of`:
0 success, 1 a run failed (or an internal error, or stdout was closed early as by `| head`,
quietly, as click does), 2 a usage, validation or input error (the exception class's
`exit_code`), 130 interrupted with Ctrl-C.
A user's mistake (`RagrunError`, a click usage error) prints its message, never a traceback;
an internal error prints one line, and its traceback only with `RAGRUN_DEBUG=1`.
"""

from __future__ import annotations

import os
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import click

from .errors import RagrunError
from .terminal import error

if TYPE_CHECKING:
    from .pipeline import Pipeline

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

_FILE_SUFFIXES = (".yaml", ".yml", ".json")


class RagrunGroup(click.Group):
    """A click group where an unknown first argument that names a file means `run FILE`."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        first = args[0] if args else ""
        if first not in self.commands and _looks_like_file(first):
            return "run", self.commands["run"], args
        return super().resolve_command(ctx, args)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path, "FILE [RUN OPTIONS]   (same as: run FILE ...)")
        formatter.write_usage(ctx.command_path, "COMMAND [ARGS]...", prefix=" " * 7)


def _looks_like_file(arg: str) -> bool:
    if not arg or arg.startswith("-"):
        return False
    return arg.endswith(_FILE_SUFFIXES) or os.sep in arg or "/" in arg or os.path.exists(arg)


@click.group(cls=RagrunGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ragrun", prog_name="ragrun")
def cli() -> None:
    """Run pipelines of typed components declared in YAML.

    Events are JSON lines on stdout when it is piped, a readable view on a terminal; messages go
    to stderr. Exit codes: 0 ok, 1 run failed, 2 invalid pipeline, input or usage, 130 Ctrl-C.
    """


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with `argv` (default: `sys.argv[1:]`, as the process) and return the exit code.

    Run as the process (no `argv`), it ends at once when a component call abandoned in a worker
    thread (after a timeout, Ctrl-C or a closed stdout) is still running: the run is over and
    Python would otherwise wait for that thread before exiting.
    """
    try:
        result = cli.main(args=list(argv) if argv is not None else None, standalone_mode=False)
        code = result if isinstance(result, int) else EXIT_OK
    except BaseException as exc:  # every outcome is mapped to a code in exit_code_of
        code = exit_code_of(exc)
    if argv is None:
        _leave_abandoned_threads(code)
    return code


def exit_code_of(exc: BaseException) -> int:
    """Report `exc` on stderr the way its kind deserves and return the process exit code."""
    exc = _only_leaf(exc)
    if isinstance(exc, SystemExit):
        return exc.code if isinstance(exc.code, int) else (EXIT_OK if exc.code is None else 1)
    if isinstance(exc, click.exceptions.Exit):
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt | click.Abort):
        error("interrupted")
        return EXIT_INTERRUPTED
    if isinstance(exc, BrokenPipeError):
        _silence_stdout()
        return EXIT_FAILED
    if isinstance(exc, click.ClickException):
        exc.show()
        return exc.exit_code
    if isinstance(exc, RagrunError):
        error(str(exc), prefix=not _is_located(exc))
        _debug_traceback(exc)
        return exc.exit_code
    error(f"internal error: {type(exc).__name__}: {exc}")
    if not _debug_traceback(exc):
        error("set RAGRUN_DEBUG=1 to see the traceback")
    return EXIT_FAILED


def _only_leaf(exc: BaseException) -> BaseException:
    # anyio task groups wrap a single failure in an ExceptionGroup; report the failure itself.
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def _is_located(exc: RagrunError) -> bool:
    return bool(getattr(exc, "problems", None))


def _debug_traceback(exc: BaseException) -> bool:
    if os.environ.get("RAGRUN_DEBUG", "") in ("", "0"):
        return False
    from .redaction import redact

    sys.stderr.write(redact("".join(traceback.format_exception(exc))))
    return True


def _leave_abandoned_threads(code: int) -> None:
    busy = [
        t
        for t in threading.enumerate()
        if t is not threading.main_thread() and t.is_alive() and not t.daemon
    ]
    if not busy or threading.current_thread() is not threading.main_thread():
        return
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def _silence_stdout() -> None:
    # Python would otherwise report the broken pipe again when it flushes stdout at exit.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


# -- values from the command line ------------------------------------------------------------


def parse_pairs(pairs: Iterable[str], option: str) -> dict[str, str]:
    """`NAME=VALUE` strings to a dict of raw texts; a pair without `=` is a usage error."""
    found: dict[str, str] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"expected NAME=VALUE, found {pair!r}", param_hint=option)
        found[name.strip()] = raw
    return found


def read_data(text: str | None) -> dict[str, Any]:
    """`--data`: a JSON object, `@FILE` holding one, or `@-` to read it from stdin.

    The JSON is read within `inputs_json`'s bounds (size, depth, UTF-8); anything wrong with it
    is a usage error (exit 2).
    """
    from .errors import PipelineInputError
    from .inputs_json import MAX_TEXT_BYTES, parse_object

    if not text:
        return {}
    source = "--data"
    raw: str | bytes = text
    if text.startswith("@"):
        path = text[1:]
        source = f"--data {text}"
        try:
            if path == "-":
                raw = sys.stdin.buffer.read(MAX_TEXT_BYTES + 1)
            else:
                with open(path, "rb") as file:
                    raw = file.read(MAX_TEXT_BYTES + 1)
        except OSError as exc:
            message = f"cannot read {path}: {exc.strerror}"
            raise click.BadParameter(message, param_hint="--data") from None
    try:
        return parse_object(raw, source)
    except PipelineInputError as exc:
        raise click.UsageError(str(exc)) from None


def split_names(values: Iterable[str]) -> list[str]:
    """`a,b` `c` -> `[a, b, c]`: an option given comma-separated, repeated, or both."""
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


def allowlist_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """`--allow-module` and `--unsafe`, on every command that loads a pipeline file."""
    command = click.option(
        "--unsafe",
        is_flag=True,
        help="Let dotted types import any module (only for a file you trust completely).",
    )(command)
    return click.option(
        "--allow-module",
        "allow_modules",
        multiple=True,
        metavar="PREFIX",
        help="Also let dotted types import this module and its submodules (repeatable, or "
        "comma-separated; RAGRUN_ALLOWED_MODULES adds more).",
    )(command)


def allowed(allow_modules: Iterable[str], unsafe: bool) -> Any:
    """The allowlist the options ask for, in force for the rest of the command."""
    from .allowlist import allowing

    return allowing(allow_modules, unsafe)


# -- ragrun run --------------------------------------------------------------------------------


def batch_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options of batch mode (`--inputs` and what goes with it), kept apart from `run`'s."""
    options = [
        click.option(
            "--inputs",
            "inputs_file",
            metavar="FILE.jsonl|-|GLOB",
            help="Batch mode: one run per JSON line of FILE ('-' reads stdin), or per file "
            "matched by a quoted GLOB (each a JSON object).",
        ),
        click.option("--ordered", is_flag=True, help="Batch: emit results in input order."),
        click.option(
            "--output",
            "output_file",
            type=click.Path(dir_okay=False),
            help="Batch: append the JSON lines to FILE; the terminal shows progress.",
        ),
        click.option("--resume", is_flag=True, help="Batch: skip lines already done in --output."),
        click.option(
            "--max-failures",
            type=click.IntRange(min=1),
            help="Batch: stop after this many failed runs.",
        ),
        click.option(
            "--backend",
            type=click.Choice(["local", "ray"]),
            default="local",
            show_default=True,
            help="Batch: where runs execute.",
        ),
        click.option(
            "--actors",
            type=click.IntRange(min=1),
            help="Ray: actors in the pool (default: the YAML's ray.actors, else 2).",
        ),
        click.option("--num-cpus", type=click.FloatRange(min=0), help="Ray: CPUs per actor."),
        click.option("--num-gpus", type=click.FloatRange(min=0), help="Ray: GPUs per actor."),
        click.option(
            "--batch-size", type=click.IntRange(min=1), help="Ray: input lines per actor batch."
        ),
        click.option(
            "--ray-address",
            metavar="ADDRESS",
            help="Ray: the cluster to use (default: RAY_ADDRESS, else a local Ray for the job).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@cli.command("run")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "-i",
    "input_pairs",
    multiple=True,
    metavar="NAME=VALUE",
    help="A run input; VALUE is parsed as JSON when it parses, else taken as text. Repeatable.",
)
@click.option("--data", metavar="JSON|@FILE", help="All run inputs as one JSON object.")
@click.option(
    "--set",
    "set_pairs",
    multiple=True,
    metavar="COMPONENT.PARAM=VALUE",
    help="Override an init parameter before the pipeline is built. Repeatable.",
)
@click.option(
    "--include-outputs-from",
    multiple=True,
    metavar="C,...",
    help="Also report the outputs of these components.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    help="Components of one run in flight at once (in batch mode: runs in flight).",
)
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Also emit component_started events (batch: every event, not only the summary ones).",
)
@allowlist_options
@batch_options
def run_command(
    file: str,
    input_pairs: tuple[str, ...],
    data: str | None,
    set_pairs: tuple[str, ...],
    include_outputs_from: tuple[str, ...],
    concurrency: int | None,
    verbose: bool,
    allow_modules: tuple[str, ...],
    unsafe: bool,
    **batch: Any,
) -> int:
    """Run the pipeline in FILE once and stream its events."""
    from .console import RunRequest, parse_value, run_file

    request = RunRequest(
        data=read_data(data),
        inputs=parse_pairs(input_pairs, "-i"),
        overrides={k: parse_value(v, "--set") for k, v in _overrides(set_pairs).items()},
        include_outputs_from=split_names(include_outputs_from),
        concurrency=concurrency,
        verbose=verbose,
        batch={k: v for k, v in batch.items() if _given(v)},
    )
    with allowed(allow_modules, unsafe):
        return run_file(file, request)


def _given(value: Any) -> bool:
    """Whether a batch option was given: not left at None, False or the local backend."""
    return value is not None and value is not False and value != "local"


def _overrides(pairs: Iterable[str]) -> dict[str, str]:
    found = parse_pairs(pairs, "--set")
    for name in found:
        component, dot, param = name.partition(".")
        if not (component and dot and param):
            raise click.BadParameter(
                f"expected COMPONENT.PARAM=VALUE, found {name!r}", param_hint="--set"
            )
    return found


# -- validate, graph, schema, components --------------------------------------------------------


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@allowlist_options
def validate(files: tuple[str, ...], allow_modules: tuple[str, ...], unsafe: bool) -> int:
    """Check each FILE without running it; list the run inputs it needs.

    Prints every mistake as FILE:LINE:COL: where: message and exits with 2 when any is found.
    """
    from .errors import PipelineValidationError
    from .inputs import required_inputs
    from .loader import load_file

    code = EXIT_OK
    for file in files:
        try:
            pipeline = load_file(file, allowed_modules=allow_modules, unsafe=unsafe)
        except PipelineValidationError as exc:
            for problem in exc.problems:
                error(problem.render(), prefix=False)
            count = len(exc.problems)
            error(f"{file}: invalid — {count} problem{'s' if count != 1 else ''}", prefix=False)
            code = max(code, exc.exit_code)
            continue
        click.echo(summary_line(file, pipeline, required_inputs(pipeline)))
    return code


def summary_line(file: str, pipeline: Pipeline, needed: Iterable[Any]) -> str:
    """`FILE: ok — N components, M connections; inputs: question (str), ...`."""
    from .typecheck import type_name

    inputs = ", ".join(f"{i.name} ({type_name(i.type)})" for i in needed) or "none"
    n, m = len(pipeline.nodes), len(pipeline.connections)
    return (
        f"{file}: ok — {n} component{'s' if n != 1 else ''}, "
        f"{m} connection{'s' if m != 1 else ''}; inputs: {inputs}"
    )


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mermaid", "dot"]),
    default="mermaid",
    show_default=True,
    help="mermaid (renders in GitHub Markdown) or dot (Graphviz: `| dot -Tsvg`).",
)
@allowlist_options
def graph(file: str, fmt: str, allow_modules: tuple[str, ...], unsafe: bool) -> None:
    """Print the graph of the pipeline in FILE as Mermaid or Graphviz text."""
    from .draw import draw
    from .loader import load_file

    pipeline = load_file(file, allowed_modules=allow_modules, unsafe=unsafe)
    click.echo(draw(pipeline, fmt), nl=False)


@cli.command()
@click.argument("kind", type=click.Choice(["pipeline", "events"]), default="pipeline")
def schema(kind: str) -> None:
    """Print the JSON Schema of pipeline YAML files or of the event lines."""
    from .schema import schema_text

    text = schema_text(kind)
    click.echo(text, nl=not text.endswith("\n"))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def components(as_json: bool) -> None:
    """List the built-in components with their sockets and init parameters."""
    from .catalogue import catalogue, render_json, render_text

    entries = catalogue()
    click.echo(render_json(entries) if as_json else render_text(entries), nl=False)

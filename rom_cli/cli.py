"""The `rom` console script: one Hydra app per subcommand.

`rom train a=b` strips the subcommand from argv and hands the rest to the Hydra app whose primary
config is `conf/train.yaml`, so overrides, `-m` sweeps, `--cfg job`, `--help` and `hydra.*` all
work after the subcommand. Hydra's own error printer is replaced so that config mistakes and
`RomError`s end as one line on stderr with exit status 2; other exceptions are bugs and keep their
traceback (exit 1).
"""

from __future__ import annotations

import errno
import importlib
import os
import sys
import traceback
from pathlib import Path

SUBCOMMANDS: dict[str, str] = {
    "train": "train one shared encoder on a task mixture (ICT, retrieval, extractive QA)",
    "eval": "evaluate a saved checkpoint: retrieval top-k, reader and end-to-end EM/F1",
    "index": "encode a corpus with a checkpoint and save a FAISS index folder",
    "ask": "answer a question with a checkpoint and an index (interactive without one)",
    "report": "aggregate run or multirun directories into a table and plots",
    "data": "show what a task loads: passages, questions per split, answer checks",
    "export": "write a checkpoint for other tools: sentence-transformers, transformers QA, SQuAD predictions",
}

# Hydra flags that take a value: their value is not a positional argument.
_FLAGS_WITH_VALUE = {"--cfg", "-c", "--package", "-p", "--config-path", "-cp", "--config-name", "-cn",
                     "--config-dir", "-cd", "--experimental-rerun"}


def usage() -> str:
    width = max(len(name) for name in SUBCOMMANDS)
    rows = "\n".join(f"  {name:<{width}}  {text}" for name, text in SUBCOMMANDS.items())
    return (
        "usage: rom <command> [hydra overrides and flags]\n\n"
        "Retrieval Optimized Multi-task learning: one shared encoder for questions, passages and the reader.\n\n"
        f"commands:\n{rows}\n\n"
        "Examples:\n"
        "  rom train task=squad data.root=../shared/data schedule=round_robin\n"
        "  rom train -m schedule=round_robin,proportional\n"
        "  rom eval checkpoint=outputs/train/<date>/<time>          (its latest checkpoint; .../best: the best)\n"
        "  rom <command> --help   (the command's config groups and options)\n"
    )


def _quote(value: str) -> str:
    """Quote a value for Hydra's override grammar."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _split_positionals(args: list[str]) -> tuple[list[str], list[str]]:
    """Separate free positional words (no '=', not a flag or a flag's value) from the rest."""
    positional, rest = [], []
    expect_value = False
    for arg in args:
        if expect_value:
            rest.append(arg)
            expect_value = False
        elif arg.startswith("-"):
            rest.append(arg)
            expect_value = arg in _FLAGS_WITH_VALUE
        elif "=" in arg or arg.startswith("~"):  # key=value, +key=value, ~key (delete)
            rest.append(arg)
        else:
            positional.append(arg)
    return positional, rest


def translate_args(command: str, args: list[str]) -> list[str]:
    """Map the positional forms `rom report PATH...` and `rom ask "question"` to overrides."""
    from rom_cli.errors import RomError

    positional, rest = _split_positionals(args)
    if command == "report" and positional:
        rest.append("paths=[" + ",".join(_quote(p) for p in positional) + "]")
    elif command == "ask":
        rest = [("index_dir=" + a.split("=", 1)[1]) if a.startswith("index=") else a for a in rest]
        if positional:
            rest.append("question=" + _quote(" ".join(positional)))
    elif positional:
        raise RomError(
            f"rom {command}: unexpected argument {positional[0]!r}: expected key=value overrides "
            f"(see `rom {command} --help`)"
        )
    return rest


def condense_config_error(ex: BaseException) -> str:
    """Hydra/OmegaConf messages span several lines; keep what names the key, value and choices."""
    text = str(ex).split("Config search path", 1)[0]
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith("To append to your config")]
    if any(ln.startswith("Available options") for ln in lines):
        idx = next(i for i, ln in enumerate(lines) if ln.startswith("Available options"))
        head = lines[:idx]
        options = ", ".join(lines[idx + 1:])
        message = " ".join(head) + f"; {lines[idx].rstrip(':').lower()}: {options}"
    else:
        message = " ".join(lines)
    cause = ex.__cause__
    if cause is not None:
        cause_lines = [ln.strip() for ln in str(cause).splitlines() if ln.strip()]
        if cause_lines and cause_lines[0] not in message:
            extra = [ln for ln in cause_lines[1:] if ln.startswith("full_key:")]
            message = message.rstrip(".") + ": " + cause_lines[0] + (f" ({extra[0]})" if extra else "")
    return message


# Errors writing outputs that the user fixes by pointing at another place (not bugs): one line.
_OUTPUT_ERRNOS = {errno.EROFS, errno.ENOSPC, errno.EDQUOT}


def output_error(ex: OSError) -> str | None:
    """One line for a path that cannot be written (a parent that is a file, no permission, a read-only
    or full disk) or read (no permission), naming it; None for other OSErrors (bugs keep their traceback)."""
    kinds = (PermissionError, NotADirectoryError, FileExistsError, IsADirectoryError)
    path = ex.filename if ex.filename is not None else "?"
    if isinstance(ex, FileNotFoundError) and ex.filename is not None and _creating(str(path)):
        return (f"{path}: cannot create it ({(ex.strerror or 'no such file or directory').lower()} under "
                f"{_nearest_existing(str(path))}): expected a writable directory "
                "(set hydra.run.dir=... or the command's output path)")
    if not isinstance(ex, kinds) and ex.errno not in _OUTPUT_ERRNOS:
        return None
    reason = (ex.strerror or type(ex).__name__).lower()
    if isinstance(ex, PermissionError) and os.path.isfile(path) and not os.access(path, os.R_OK):
        return f"{path}: {reason}: expected a readable file"
    blocker = next((p for p in [path, *map(str, Path(str(path)).parents)] if os.path.isfile(p)), None)
    if blocker is not None and blocker != path:
        reason = f"{blocker} is a file"
    return (f"{path}: cannot write there ({reason}): expected a writable directory "
            "(set hydra.run.dir=... or the command's output path)")


def _nearest_existing(path: str) -> str:
    return next((p for p in map(str, Path(path).parents) if os.path.exists(p)), "/")


def _creating(path: str) -> bool:
    """A FileNotFoundError on a path that does not exist under an existing folder: an output that could not
    be created there (e.g. `hydra.run.dir=/proc/x`), not an input that is missing (loaders name those)."""
    return not os.path.exists(path) and os.path.isdir(_nearest_existing(path))


def _quiet_broken_pipe() -> None:
    """The reader of stdout went away (`rom report ... | head`): what it wanted was printed; stop quietly
    (stdout now points at /dev/null so the interpreter's final flush cannot fail again)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    raise SystemExit(0)


def _report_errors(func):
    """Replacement for hydra._internal.utils.run_and_report (see module docstring)."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from rom_cli.errors import RomError, fail, one_line

    try:
        return func()
    except RomError as ex:
        fail(str(ex))
    except BrokenPipeError:
        _quiet_broken_pipe()
    except (HydraException, OmegaConfBaseException) as ex:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        fail(condense_config_error(ex))
    except OSError as ex:  # e.g. an output dir that is not writable (Hydra creates the run dir)
        message = output_error(ex)
        if message is None or os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        fail(message)
    except KeyboardInterrupt as ex:  # the trainer's message says where it saved and how to continue
        sys.stderr.write(f"rom: {one_line(str(ex)) or 'interrupted'}\n")
        raise SystemExit(130) from None
    except Exception:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        traceback.print_exc()
        raise SystemExit(1) from None


def _quiet_libraries() -> None:
    """Keep library chatter (the faiss loader, weight-loading bars) out of a run's output."""
    import logging

    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _check_keys(command: str, cfg) -> None:
    """`+key=value` adds keys no schema knows; every command refuses them instead of ignoring them."""
    from rom_cli.config import schema
    from rom_cli.config.validate import check_known_keys

    node = {"train": schema.TrainConfig, "eval": schema.EvalCmdConfig, "index": schema.IndexCmdConfig,
            "ask": schema.AskCmdConfig, "report": schema.ReportCmdConfig, "data": schema.DataCmdConfig,
            "export": schema.ExportCmdConfig}.get(command)
    if node is not None:
        check_known_keys(cfg, node)


def _run_app(command: str) -> None:
    import hydra
    import hydra._internal.utils as hydra_utils

    from rom_cli.config.schema import register_configs

    register_configs()
    hydra_utils.run_and_report = _report_errors

    @hydra.main(version_base="1.3", config_path="pkg://rom_cli.conf", config_name=command)
    def app(cfg):
        from hydra.core.hydra_config import HydraConfig

        from rom_cli.console import append_log, attach_log
        from rom_cli.errors import RomError, fail, one_line
        from rom_cli.run_dir import discard_if_empty

        _quiet_libraries()
        run_dir = Path(HydraConfig.get().runtime.output_dir)
        log_name = f"{HydraConfig.get().job.name}.log"
        module = importlib.import_module(f"rom_cli.commands.{command}")
        try:
            _check_keys(command, cfg)
            return module.run(cfg)
        except RomError as ex:  # handled here so Hydra adds no "Error executing job" line
            append_log(f"rom: error: {one_line(str(ex))}")
            fail(str(ex))
        except BrokenPipeError:
            _quiet_broken_pipe()
        except OSError as ex:
            message = output_error(ex)
            if message is None:
                raise
            append_log(f"rom: error: {one_line(message)}")
            fail(message)
        finally:
            attach_log(None)
            discard_if_empty(run_dir, log_name, command)  # a refused command or `rom ask` leaves no folder

    try:
        app()
    except ValueError as ex:  # Hydra's own flag checks (e.g. `-m` with `--cfg`) raise before any job
        from rom_cli.errors import fail

        if not str(ex).startswith("Only one of"):
            raise
        fail(f"rom {command}: {ex}")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return _main(argv)
    except BrokenPipeError:
        _quiet_broken_pipe()
    finally:
        try:  # what is still buffered (Hydra's --help text, say) reaches a reader that may have left
            sys.stdout.flush()
        except BrokenPipeError:
            _quiet_broken_pipe()
    return 0


def _main(argv: list[str]) -> int:
    from rom_cli.errors import RomError, fail

    if not argv or argv[0] in ("-h", "--help", "help"):
        sys.stdout.write(usage())
        return 0 if argv else 2
    command, args = argv[0], argv[1:]
    if command not in SUBCOMMANDS:
        fail(f"unknown command {command!r}: expected one of {', '.join(SUBCOMMANDS)} (see `rom --help`)")
    try:
        args = translate_args(command, args)
    except RomError as ex:
        fail(str(ex))
    sys.argv = [f"rom-{command}", *args]
    _run_app(command)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

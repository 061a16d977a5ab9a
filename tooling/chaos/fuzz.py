"""Property-based requests generated from the app's OpenAPI document (schemathesis).

Each operation gets `max_examples` generated requests, valid ones and (with `negative`)
deliberately invalid ones, sent in-process to the ASGI app. Every answer must not be a server
error and must match the response schema the document declares. schemathesis is a development
dependency: it is imported here, on first use, and never by the service itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class FuzzReport:
    cases: int = 0
    operations: int = 0
    failures: list[str] = field(default_factory=list)


def _run_operation(
    operation: Any,
    headers: dict[str, str],
    query: dict[str, str],
    examples: int,
    negative: bool,
    report: FuzzReport,
) -> None:
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance

    mode = GenerationMode.NEGATIVE if negative else GenerationMode.POSITIVE
    strategy = operation.as_strategy(generation_mode=mode, headers=headers, query=query or None)

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,  # the same cases every run: a CI failure can be reproduced
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def exercise(case: Any) -> None:
        report.cases += 1
        response = case.call()
        checks = [not_a_server_error] + ([] if negative else [response_schema_conformance])
        case.validate_response(response, checks=checks)

    try:
        exercise()
    except Unsatisfiable:
        return  # nothing about this operation can be made invalid (no parameters, no body)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - schemathesis raises a group; the rest still run
        first = str(exc).strip().splitlines()
        report.failures.append(f"{operation.label}: {' | '.join(first[:12])}")


def fuzz(
    app: Any,
    *,
    headers: dict[str, str],
    query: dict[str, str] | None = None,
    examples: int = 25,
    negative: bool = True,
    skip: tuple[str, ...] = (),
) -> FuzzReport:
    """Fuzz every operation of `app` whose path does not start with one of `skip`."""
    import schemathesis
    from schemathesis.core.result import Ok

    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    report = FuzzReport()
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            report.failures.append(f"an operation the fuzzer cannot read: {result.err()}")
            continue
        operation = result.ok()
        if operation.path.startswith(skip):
            continue
        report.operations += 1
        for mode in (False, True) if negative else (False,):
            _run_operation(operation, headers, query or {}, examples, mode, report)
    return report

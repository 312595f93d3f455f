"""Cut Stripe's official OpenAPI description down to the operations the adapter calls:
`python -m tests.cassettes.extract_stripe_spec [path to spec3.yaml]`.

The subset (`stripe_openapi_subset.json`, a few hundred KB instead of 4 MB) is committed so that
the conformance test always runs, even where the full description is not at hand. Operations
are copied verbatim; only `info` and the chosen `paths` are kept.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

FULL_SPEC = Path("/work/shared/provider-specs/stripe_spec3_2023-09-12.yaml")
SUBSET = Path(__file__).with_name("stripe_openapi_subset.json")
PATHS = (
    "/v1/payment_intents", "/v1/payment_intents/{intent}",
    "/v1/payment_intents/{intent}/capture", "/v1/payment_intents/{intent}/cancel",
    "/v1/refunds", "/v1/refunds/{refund}", "/v1/disputes", "/v1/disputes/{dispute}",
)


def extract(source: Path) -> dict[str, object]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with source.open("rb") as handle:
        spec = yaml.load(handle, Loader=loader)  # noqa: S506 - a safe loader
    return {"openapi": spec["openapi"], "info": spec["info"],
            "x-extracted-from": source.name,
            "paths": {path: spec["paths"][path] for path in PATHS}}


if __name__ == "__main__":
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else FULL_SPEC
    SUBSET.write_text(json.dumps(extract(source), indent=1, sort_keys=True) + "\n")
    print(f"wrote {SUBSET} from {source}")

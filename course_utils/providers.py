"""``python -m course_utils.providers``: the execution-provider table and ``switch_provider``.

The code lives in :mod:`course_utils.runtime.providers`; this module keeps the command and the import path
(``from course_utils.providers import …``) that the lessons use. It re-exports that module's public names.
"""

from __future__ import annotations

import sys

from course_utils.runtime.providers import (
    OPTIMIZATION_LEVELS,
    PROVIDERS,
    NodePlacement,
    ProviderInfo,
    ProviderTable,
    SwitchReport,
    course_model,
    course_models,
    main,
    provider_choices,
    provider_info,
    provider_table,
    switch_provider,
)

__all__ = [
    "OPTIMIZATION_LEVELS",
    "PROVIDERS",
    "NodePlacement",
    "ProviderInfo",
    "ProviderTable",
    "SwitchReport",
    "course_model",
    "course_models",
    "main",
    "provider_choices",
    "provider_info",
    "provider_table",
    "switch_provider",
]

if __name__ == "__main__":
    sys.exit(main())

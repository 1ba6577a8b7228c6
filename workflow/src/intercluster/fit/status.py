"""Status of a simulated grid point: every chunk, χ² and best-fit table says ``ok`` or
``failed`` (a failed point is kept with its reason, never raised)."""

STATUS_OK = "ok"
STATUS_FAILED = "failed"

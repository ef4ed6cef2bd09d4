"""Test configuration: hypothesis profiles chosen by ``HYPOTHESIS_PROFILE``.

* ``default``: few examples, for a quick local run;
* ``ci``: derandomized, so that CI runs the same examples every time;
* ``thorough``: many examples, for long runs by hand.

Numeric tests have no deadline: their run time depends on the machine's load.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("default", max_examples=15, deadline=None)
settings.register_profile("ci", max_examples=15, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

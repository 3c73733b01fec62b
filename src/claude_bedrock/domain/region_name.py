"""What an AWS region name looks like: one pattern for the catalog's data, the config file's
``region`` keys and the regions read off requests; and the region used when none is given."""

from __future__ import annotations

import re

#: us-east-1, us-gov-west-1, eu-central-2, ap-southeast-2 ...
REGION_NAME_RE = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]", re.ASCII)

#: The region of a request or client that names none: the guide's (its SDK samples fall back
#: to us-east-1 when AWS_REGION is not set).
DEFAULT_REGION = "us-east-1"

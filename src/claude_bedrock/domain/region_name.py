"""What an AWS region name looks like: one pattern for the catalog's data, the config file's
``region`` keys and the regions read off requests."""

from __future__ import annotations

import re

#: us-east-1, us-gov-west-1, eu-central-2, ap-southeast-2 ...
REGION_NAME_RE = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]", re.ASCII)

"""CI step: pip-audit the installed dependencies; any known vulnerability fails the run.

pip-audit asks PyPI's vulnerability API. Where that API cannot be reached (this project's
own CI machine reaches only a PyPI mirror of packages), every dependency comes back
"could not be audited": then the step says so loudly and passes, unless
PEERLINE_CI_REQUIRE_AUDIT=1, which makes an unaudited run fail (set it where CI has the
internet).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys


def main() -> int:
    command = [sys.executable, "-m", "pip_audit", "--format", "json", "--skip-editable"]
    ran = subprocess.run(  # noqa: S603 (a fixed command)
        [*command, "--progress-spinner", "off"],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        report = json.loads(ran.stdout)
    except json.JSONDecodeError:
        print(f"pip-audit failed to run:\n{ran.stderr[-2000:]}")
        return 1
    dependencies = report["dependencies"]
    vulnerable = [d for d in dependencies if d.get("vulns")]
    for dep in vulnerable:
        for vuln in dep["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions") or []) or "no fix yet"
            print(f"VULNERABLE {dep['name']} {dep['version']}: {vuln['id']} (fixed in {fixed})")
    audited = [d for d in dependencies if "skip_reason" not in d]
    print(
        f"dependency audit: {len(audited)} of {len(dependencies)} packages audited, "
        f"{len(vulnerable)} with known vulnerabilities"
    )
    if vulnerable:
        return 1
    if not audited:
        print("NOT AUDITED: the vulnerability service could not be reached from this machine")
        return 1 if os.environ.get("PEERLINE_CI_REQUIRE_AUDIT") == "1" else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())

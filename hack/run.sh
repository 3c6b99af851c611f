#!/usr/bin/env bash
# make run: the main job is the hub, on its embedded defaults, with the
# seeded welcome image. It prints its address and the commands to try next.
set -euo pipefail
exec "$1" hub serve

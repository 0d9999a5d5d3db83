#!/usr/bin/env bash
# Set up, then turn the bundled Markdown report into an audiobook and show its chapters.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/kokoro-cli convert samples/report.md -o report.m4b
ffprobe -v error -show_entries chapter=start_time,end_time:chapter_tags=title -of compact report.m4b

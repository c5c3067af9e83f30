#!/usr/bin/env bash
# Prints every exported constant declaration of the Go package in directory
# $1, with its doc comment, as `go doc -all` shows it: first the untyped
# constants, then those of each named type. `make docs` passes the result to
# crd-ref-docs (--template-value=constants=...), which renders it in the
# "Constants" section of docs/api.md: crd-ref-docs itself collects only the
# constants of string types, and without their Go names.
set -euo pipefail
cd "${1:?usage: constants.sh PACKAGE_DIR}"
go doc -all . | awk '
	# In a declaration: print it, its doc (indented) and the blank line that
	# ends it; any other line at column 0 also ends it.
	inside && !block && $0 == "" { print; inside = 0; blank = 1; next }
	inside && !block && /^[^ \t]/ { inside = 0 }
	!inside && /^const / {
		if (printed && !blank) print ""
		inside = 1; block = ($0 == "const (")
	}
	inside {
		print; printed = 1; blank = 0
		if (block && $0 == ")") block = 0
	}
'

# md-section.awk: one "## SECTION" of a Markdown file as man(7) roff, put into a template.
#
#   awk -f md-section.awk -v section=Configuration -v version=0.1.0 -v date=2026-12-01 \
#       TEMPLATE README.md >authd.conf.5
#
# Prints TEMPLATE with @PROJECT_VERSION@ and @AUTHD_MAN_DATE@ replaced and its line
# @README_SECTION@ replaced by the section's text (up to the next "## " heading). So the man
# page is made from the README at build time and the two cannot drift. It knows the Markdown
# the README uses, and no more: paragraphs, "- " lists with indented continuation lines,
# "### " headings, ``` code blocks, tables (each row a tagged paragraph: the first cell the
# tag, the middle cells "Header: value.", the last the text), `code`, **bold** and [links](...).
# POSIX awk (mawk, gawk): no gensub, no arrays of arrays.

# roff_escape S: S with roff's escape character doubled and non-ASCII punctuation named.
function roff_escape(s) {
	gsub(/\\/, "\\e", s)
	gsub(/—/, "\\(em", s)
	gsub(/–/, "\\(en", s)
	gsub(/→/, "\\(->", s)
	gsub(/…/, "...", s)
	return s
}

# line_start S: S safe as a roff text line (a leading . or ' would make it a request).
function line_start(s) {
	sub(/^[ \t]+/, "", s)
	if (s ~ /^[.']/)
		s = "\\&" s
	return s
}

# plain S: the markup of a stretch of text outside code spans.
function plain(s,    out, t, link_text, target) {
	s = roff_escape(s)
	out = ""
	# [text](#anchor): the text, and where it is; [text](url): the text and the url.
	while (match(s, /\[[^]]*\]\([^)]*\)/)) {
		t = substr(s, RSTART, RLENGTH)
		out = out substr(s, 1, RSTART - 1)
		s = substr(s, RSTART + RLENGTH)
		link_text = t
		sub(/\]\(.*$/, "", link_text)
		sub(/^\[/, "", link_text)
		target = t
		sub(/^.*\]\(/, "", target)
		sub(/\)$/, "", target)
		if (target ~ /^#/)
			out = out "\\fI" link_text "\\fR (in README.md)"
		else
			out = out link_text " <" target ">"
	}
	s = out s
	out = ""
	while (match(s, /\*\*[^*]+\*\*/)) {
		out = out substr(s, 1, RSTART - 1) "\\fB" substr(s, RSTART + 2, RLENGTH - 4) "\\fR"
		s = substr(s, RSTART + RLENGTH)
	}
	return out s
}

# inline S: S with `code` in bold (its hyphens as minus signs, to be typed) and the rest plain.
function inline(s,    out, code, start, len) {
	out = ""
	while (match(s, /`[^`]*`/)) {
		# plain() matches too, and RSTART and RLENGTH are global.
		start = RSTART
		len = RLENGTH
		code = roff_escape(substr(s, start + 1, len - 2))
		gsub(/-/, "\\-", code)
		out = out plain(substr(s, 1, start - 1)) "\\fB" code "\\fR"
		s = substr(s, start + len)
	}
	return out plain(s)
}

function emit(s) { body = body s "\n" }

# table_cells LINE: splits a "| a | b |" row into cells[1..n], trimmed; returns n.
function table_cells(line,    n, i, parts, m) {
	sub(/^[ \t]*\|/, "", line)
	sub(/\|[ \t]*$/, "", line)
	m = split(line, parts, /\|/)
	n = 0
	for (i = 1; i <= m; i++) {
		sub(/^[ \t]+/, "", parts[i])
		sub(/[ \t]+$/, "", parts[i])
		cells[++n] = parts[i]
	}
	return n
}

function table_row(line,    n, i, h) {
	n = table_cells(line)
	if (state != "table") {
		# A new table: this row is its header.
		state = "table"
		header_n = n
		for (i = 1; i <= n; i++)
			header[i] = cells[i]
		return
	}
	emit(".TP")
	emit(line_start(inline(cells[1])))
	for (i = 2; i < n; i++) {
		if (cells[i] == "" || cells[i] == "—")
			continue
		# "Default: required" says less than "Required".
		h = header[i] ": "
		if (tolower(header[i]) == "default" && cells[i] ~ /^(one )?required/)
			h = ""
		h = h inline(cells[i])
		emit(line_start(toupper(substr(h, 1, 1)) substr(h, 2) "."))
		emit(".br")
	}
	emit(line_start(inline(cells[n])))
}

# The template: every line kept until the README is read.
FNR == NR {
	template[++template_n] = $0
	next
}

$0 ~ ("^## " section "[ \t]*$") { inside = 1; state = ""; next }
inside && /^## / { inside = 0 }
!inside { next }

fence {
	if ($0 ~ /^```/) {
		emit(".fi")
		emit(".RE")
		fence = 0
	} else {
		emit("\\&" roff_escape($0))    # indentation kept, a leading . or ' made text
	}
	next
}
/^```/ {
	emit(".PP")
	emit(".RS 4")
	emit(".nf")
	fence = 1
	state = ""
	next
}
/^#+ / {
	h = $0
	sub(/^#+ +/, "", h)
	emit(".SS \"" roff_escape(h) "\"")
	state = ""
	next
}
/^[ \t]*\|/ {
	if ($0 ~ /^[ \t]*\|[-|: \t]+\|[ \t]*$/)
		next                    # the header's underline
	table_row($0)
	next
}
/^[ \t]*$/ {
	# A blank line ends a paragraph or a list; a table goes on after one.
	if (state != "table")
		state = ""
	next
}
/^- / {
	emit(".IP \\(bu 2")
	emit(line_start(inline(substr($0, 3))))
	state = "list"
	next
}
{
	if (state == "list" && $0 ~ /^[ \t]/) {
		emit(line_start(inline($0)))
		next
	}
	if (state != "para") {
		emit(".PP")
		state = "para"
	}
	emit(line_start(inline($0)))
}

END {
	if (body == "") {
		print "md-section.awk: no \"## " section "\" section in " FILENAME > "/dev/stderr"
		exit 1
	}
	for (i = 1; i <= template_n; i++) {
		line = template[i]
		if (line == "@README_SECTION@") {
			printf "%s", body
			continue
		}
		gsub(/@PROJECT_VERSION@/, version, line)
		gsub(/@AUTHD_MAN_DATE@/, date, line)
		print line
	}
}

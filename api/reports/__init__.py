"""Reports: the location manager's dashboard and the programme (equity) report, as pages with
server-drawn SVG charts and a table beside each, CSV downloads with the same numbers, and JSON."""

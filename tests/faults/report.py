"""What each fault test saw, printed at the end of the run ("fault report" in the terminal summary).

Tests record lines through the `fault_report` fixture; they travel as the
test's user_properties, so the summary works under xdist too (the hook must be
importable from the root conftest, which the xdist controller loads).
"""

KEY = "fault report"


class FaultReport:
    """Lines of "what the user saw / what was lost" for one fault test."""

    def __init__(self, title):
        self.title = title
        self.lines = []

    def add(self, label, text):
        self.lines.append(f"{label}: {text}")

    def render(self):
        return "\n".join([f"FAULT {self.title}", *(f"    {line}" for line in self.lines)])


def statuses(responses):
    """'12 x 200, 3 x 503' for a list of objects/tuples with a status."""
    counts = {}
    for r in responses:
        counts[r.status] = counts.get(r.status, 0) + 1
    return ", ".join(f"{n} x {status}" for status, n in sorted(counts.items())) or "none"


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if getattr(config, "_fault_report_done", False):  # imported by more than one conftest
        return
    config._fault_report_done = True
    texts, outcomes = {}, {}
    for reps in terminalreporter.stats.values():
        for rep in reps:
            for key, text in getattr(rep, "user_properties", ()):
                if key == KEY:  # attached at teardown: found on the teardown report
                    texts[rep.nodeid] = text
            if getattr(rep, "when", None) == "call":
                outcomes[rep.nodeid] = rep.outcome
    if texts:
        terminalreporter.section("fault report")
        for nodeid in sorted(texts):
            terminalreporter.write_line(f"{texts[nodeid]}\n    -> test {outcomes.get(nodeid, 'not run')}")

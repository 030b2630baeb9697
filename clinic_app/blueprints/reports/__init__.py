"""Reports: day-end reconciliation and the money, clinic and stock reports, each with a CSV download."""

"""Program metrics finance can read: per program and UTC day, folded from the journal.

- `members`: member sets, exact (8-byte hashes) while small, HyperLogLog sketches beyond;
- `models`: a program's stored day (`DayFigures`) and a period's answer (`PeriodMetrics`);
- `daily`: one day's journal records folded into each program's figures;
- `period`: the stored days of a period combined, every formula in one place;
- `service`: `ProgramMetrics`, computing days and answering periods, with the role rules.

Nothing here speaks to AWS: it reads and writes through `ports` and the journal's ports.
"""

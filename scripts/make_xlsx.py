#!/usr/bin/env python3
"""Write an XLSX fixture from a JSON description, so binary fixtures stay reviewable.

    python3 scripts/make_xlsx.py fixtures/src/meqsum.xlsx.json fixtures/raw/meqsum/MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx

The JSON is {"sheets": [{"name": "QS", "rows": [["File", "CHQ", "Summary"], [...], ...]}]};
null cells stay empty. Needs openpyxl (pip install openpyxl). Timestamps are pinned so the
output is byte-for-byte reproducible.
"""
import datetime
import json
import sys
import zipfile

import openpyxl

spec = json.load(open(sys.argv[1], encoding="utf-8"))
wb = openpyxl.Workbook()
wb.remove(wb.active)
for sheet in spec["sheets"]:
    ws = wb.create_sheet(sheet["name"])
    for row in sheet["rows"]:
        ws.append(row)
fixed = datetime.datetime(2024, 1, 1)
wb.properties.created = fixed
wb.properties.modified = fixed
wb.save(sys.argv[2])
# rewrite with fixed zip timestamps
with zipfile.ZipFile(sys.argv[2]) as z:
    items = [(i.filename, z.read(i.filename)) for i in z.infolist()]
with zipfile.ZipFile(sys.argv[2], "w", zipfile.ZIP_DEFLATED) as z:
    for name, data in items:
        info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(info, data)

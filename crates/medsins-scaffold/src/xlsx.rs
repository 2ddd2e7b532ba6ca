//! A minimal XLSX writer (inline strings only): enough for fixtures cut from workbooks, readable
//! by calamine, Excel and LibreOffice. Deterministic: fixed zip timestamps.

use std::io::Write;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn col(mut i: usize) -> String {
    let mut s = String::new();
    i += 1;
    while i > 0 {
        let r = (i - 1) % 26;
        s.insert(0, (b'A' + r as u8) as char);
        i = (i - 1) / 26;
    }
    s
}

fn sheet_xml(rows: &[Vec<Option<String>>]) -> String {
    let mut x = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><sheetData>",
    );
    for (r, row) in rows.iter().enumerate() {
        x.push_str(&format!("<row r=\"{}\">", r + 1));
        for (c, cell) in row.iter().enumerate() {
            if let Some(v) = cell {
                x.push_str(&format!(
                    "<c r=\"{}{}\" t=\"inlineStr\"><is><t xml:space=\"preserve\">{}</t></is></c>",
                    col(c),
                    r + 1,
                    esc(v)
                ));
            }
        }
        x.push_str("</row>");
    }
    x.push_str("</sheetData></worksheet>");
    x
}

/// Writes sheets (name, rows of optional cell texts) as an XLSX file.
pub fn write_xlsx(
    path: &std::path::Path,
    sheets: &[(String, Vec<Vec<Option<String>>>)],
) -> std::io::Result<()> {
    let file = std::fs::File::create(path)?;
    let mut z = zip::ZipWriter::new(file);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default());
    let mut add = |name: &str, body: String| -> std::io::Result<()> {
        z.start_file(name, opts).map_err(std::io::Error::other)?;
        z.write_all(body.as_bytes())
    };
    let mut types = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/><Default Extension=\"xml\" ContentType=\"application/xml\"/><Override PartName=\"/xl/workbook.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/>",
    );
    for i in 1..=sheets.len() {
        types.push_str(&format!(
            "<Override PartName=\"/xl/worksheets/sheet{i}.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/>"
        ));
    }
    types.push_str("</Types>");
    add("[Content_Types].xml", types)?;
    add(
        "_rels/.rels",
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" Target=\"xl/workbook.xml\"/></Relationships>".into(),
    )?;
    let mut wb = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<workbook xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\"><sheets>",
    );
    let mut rels = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">",
    );
    for (i, (name, _)) in sheets.iter().enumerate() {
        wb.push_str(&format!(
            "<sheet name=\"{}\" sheetId=\"{}\" r:id=\"rId{}\"/>",
            esc(name),
            i + 1,
            i + 1
        ));
        rels.push_str(&format!(
            "<Relationship Id=\"rId{}\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet\" Target=\"worksheets/sheet{}.xml\"/>",
            i + 1,
            i + 1
        ));
    }
    wb.push_str("</sheets></workbook>");
    rels.push_str("</Relationships>");
    add("xl/workbook.xml", wb)?;
    add("xl/_rels/workbook.xml.rels", rels)?;
    for (i, (_, rows)) in sheets.iter().enumerate() {
        add(
            &format!("xl/worksheets/sheet{}.xml", i + 1),
            sheet_xml(rows),
        )?;
    }
    z.finish().map_err(std::io::Error::other)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_workbook_reads_back() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("w.xlsx");
        let rows = vec![
            vec![Some("Input".into()), Some("Output".into())],
            vec![Some("a & <b>".into()), None],
            vec![Some("x\ny".into()), Some("z".into())],
        ];
        write_xlsx(&p, &[("Instances".into(), rows)]).unwrap();
        let recs = medsins_readers::read_all(
            &p,
            "workbook",
            &Default::default(),
            tmp.path(),
            &Default::default(),
        )
        .unwrap();
        let r: Vec<_> = recs.into_iter().map(|r| r.unwrap()).collect();
        assert_eq!(r[0].fields["input"], "a & <b>");
        assert_eq!(r[0].fields["output"], serde_json::Value::Null);
        assert_eq!(r[1].fields["input"], "x\ny");
        assert_eq!(r[1].locator, "Instances!row 3");
        assert_eq!(col(27), "AB");
    }
}

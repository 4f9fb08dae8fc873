//! The wheel reader: `Wheel::from_bytes` on arbitrary bytes (zip, METADATA, RECORD, paths),
//! and a builder of well-formed wheels that the site-packages target feeds it with.

use std::io::Write;

use base64::Engine as _;
use eryx_libs::{SitePackages, Wheel};
use sha2::{Digest, Sha256};

/// Reads `data` as a wheel; when it is accepted, checks what the reader promises.
pub fn check_bytes(data: &[u8]) {
    let Ok(wheel) = Wheel::from_bytes("fuzz.whl", data) else { return };
    check_accepted(&wheel);
    // The tree must take (or refuse with an error) whatever the reader accepted.
    let _ = SitePackages::new().add_wheel(&wheel);
}

/// What holds for every wheel the reader accepts.
pub fn check_accepted(wheel: &Wheel) {
    assert!(!wheel.name.is_empty() && !wheel.version.is_empty(), "accepted without a name or version");
    assert_eq!(eryx_libs::normalize_name(&wheel.name), wheel.name, "name is not normalised");
    for file in &wheel.files {
        assert!(crate::stays_below(&file.path), "wheel file with an unsafe path {:?}", file.path);
    }
}

/// Builds a wheel zip (stored, no compression) holding `files` plus a METADATA for
/// `name`/`version` and a RECORD with the right hashes, so the reader's checks pass and the
/// paths reach whatever comes after it.
pub fn build(name: &str, version: &str, files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let dist_info = format!("{name}-{version}.dist-info");
    let metadata = format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n").into_bytes();
    let mut members: Vec<(String, Vec<u8>)> = files.to_vec();
    members.push((format!("{dist_info}/METADATA"), metadata));

    let mut record = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
    for (path, bytes) in &members {
        let hash = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(bytes));
        record.write_record([path.as_str(), &format!("sha256={hash}"), &bytes.len().to_string()]).expect("to a Vec");
    }
    let record_path = format!("{dist_info}/RECORD");
    record.write_record([record_path.as_str(), "", ""]).expect("to a Vec");
    members.push((record_path, record.into_inner().expect("to a Vec")));

    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (path, bytes) in &members {
        // The writer refuses some names (duplicates, for one): such a member is left out.
        if zip.start_file(path.as_str(), options).is_ok() {
            zip.write_all(bytes).expect("to a Vec");
        }
    }
    zip.finish().expect("to a Vec").into_inner()
}

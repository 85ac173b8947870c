"""Recording: the session file and its interchange formats (docs/architecture.md section 6).

- `imu.recording.session`: SessionWriter, annotate (and the reader's names, re-exported)
- `imu.recording.reader`: SessionReader, read_session, iter_notifications, Integrity
- `imu.recording.export`: a session's samples as rows in Parquet or CSV (`imu.export` aligns them)
- `imu.recording.csv_import`: read_interchange_csv, write_interchange_csv
"""

"""What a run tells its user: progress lines (`progress`), the quiet console
and log file (`console`), `last_run.json` (`summary`) and the HTML report
(`report`)."""

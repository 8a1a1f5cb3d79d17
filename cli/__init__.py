"""The ``backupbot`` command line: what deploy pipelines, cron and break-glass operators run."""

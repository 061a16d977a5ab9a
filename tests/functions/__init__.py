"""Tests of `functions/`: the job kinds, run against real Postgres."""

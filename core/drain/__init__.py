"""The drain: `runner` is the one deadline-aware loop behind the cron endpoint, the CLI and Lambda;
`kinds` is what a job kind (see `functions/`) looks like to it; `kick` brings one user up to
date right after their write; `history` lists a user's background jobs. May import `core.base`
and `core.queue`. Job kinds are passed in, never imported, so the drain never imports
`functions`.
"""

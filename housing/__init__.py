"""Smart-housing platform: the registry core and the composition root.

The domain part (registry, accounts, and the kernel modules settings, db, errors,
auth, web) never imports `sensors` or `billing`; `app`, `cli`, `scheduler` and
`migrations` compose everything and are imported by nothing.
"""

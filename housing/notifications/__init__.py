"""Notifications: an outbox written with its cause, delivered by a sender to each channel once.

`service.notify` writes a notification in the caller's transaction; `sender` plans each
one's deliveries from the user's preferences and hands them to the channels (e-mail,
Telegram, SMS; in-app is the notification itself). `kinds` is the catalogue of what we
notify about, `quiet` the quiet-hours rule, `messages` the text in the user's language.
"""

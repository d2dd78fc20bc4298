"""The interactive Telegram bot: linking a chat, the resident's questions and forms, in their language.

Composition root: it uses the housing, sensors and billing services the pages use, and runs
either as its own long-polling process (`housing bot`, polling.py) or behind the web app
(`POST /telegram/webhook`, webhook.py). See docs/telegram.md.
"""

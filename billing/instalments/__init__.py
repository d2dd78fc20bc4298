"""Instalment plans: a schedule staff agree with a debtor; kept, penalties on its debt stop."""

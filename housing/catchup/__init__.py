"""Calendar jobs that catch up: each records the last day or month it finished, and a run does every one since."""

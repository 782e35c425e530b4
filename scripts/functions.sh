# The Lambda functions: one crate each under functions/<name>, staged as build/lambda/<name>/.
# Sourced by build-functions.sh and package.sh, so the list is said once.
FUNCTIONS=(intake api prepare runner deliver notify record-failure schedules monitor)

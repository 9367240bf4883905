"""The operations: what each command does against the hosts (provision, check, deploy,
status, images), built on the models and the Ansible seam, with no terminal I/O of
their own beyond progress."""

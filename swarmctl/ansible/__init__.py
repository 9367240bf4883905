"""The seam to Ansible: running playbooks with ansible-runner, reading their events, and
showing progress. The only code that knows playbook and event shapes."""

"""The declared state, as typed models: the inventory and the services spec. Loading a
file validates it; a mistake is an InputError naming the file, the place and the fix."""

"""The course's machinery (profiles, runner, offline copies, Colab, recipes, results, the toy world): not course content."""

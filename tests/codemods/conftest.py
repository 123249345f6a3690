"""The fixture trees are sample projects the codemod tests rewrite, not tests of their own."""

collect_ignore = ["fixtures", "scaffold_fixtures"]

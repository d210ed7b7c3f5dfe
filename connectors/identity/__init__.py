"""Identity sources: directories and school-data registers that know people and groups."""

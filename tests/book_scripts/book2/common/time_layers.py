raise RuntimeError("the repository's own common/ was imported: xpnet book must shadow it")

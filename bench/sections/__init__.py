"""One module per benchmark section: ``run(ctx)`` returns its JSON-ready result,
``markdown(result)`` its table, ``chart(result, path)`` its PNG."""

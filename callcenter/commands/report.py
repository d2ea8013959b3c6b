"""`callcenter report`: reports for customers and for the help desk itself."""

from __future__ import annotations

import click

from .context import Context, now_utc, pass_ctx


@click.group()
def report() -> None:
    """Reports for customers and for the help desk itself."""


@report.command("quarterly")
@click.option("--company", required=True, help="company name or id")
@click.option("--quarter", required=True, help="e.g. 2026Q3")
@click.option("--format", "fmt", type=click.Choice(["pdf", "csv"]), default="pdf", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, writable=True), required=True,
              help="file to write, - for stdout (csv)")
@click.option("--lang", type=click.Choice(["en", "hu", "el"]), default="en", show_default=True,
              help="language of the PDF")
@pass_ctx
def report_quarterly(ctx: Context, company: str, quarter: str, fmt: str, output: str, lang: str) -> None:
    """Quarterly SLA compliance of one customer as PDF or CSV."""
    from ..customers import UnknownCompany
    from ..report_export import quarterly_csv, quarterly_pdf
    from ..reports import ReportError, quarterly_report

    with ctx.session() as session:
        try:
            # The PDF lists the first 500 breaches, the CSV every one.
            result = quarterly_report(session, company, quarter, now=now_utc(),
                                      breach_limit=None if fmt == "csv" else 500)
        except (UnknownCompany, ReportError) as exc:
            raise click.ClickException(str(exc)) from exc
    if fmt == "csv":
        data = quarterly_csv(result)
        if output == "-":
            click.echo(data, nl=False)
            return
        with open(output, "w", encoding="utf-8", newline="") as fh:
            fh.write(data)
    else:
        if output == "-":
            raise click.ClickException("write the PDF to a file (--output report.pdf)")
        with open(output, "wb") as fh:
            from ..web.report_views import standalone_pdf_words

            fh.write(quarterly_pdf(result, words=standalone_pdf_words(lang)))
    click.echo(f"{result.company_name} {result.quarter.label}: {result.total.tickets} tickets, "
               f"{result.breach_count} breaches -> {output}", err=True)

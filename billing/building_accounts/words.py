"""The words of a building's report in the reader's language: expense categories and the
report's own labels, one place for the pages and the PDF (the catalogs translate them)."""

from housing.building_money.rules import ExpenseCategory


def N_(message: str) -> str:
    return message


CATEGORIES: dict[str, str] = {
    ExpenseCategory.cleaning: N_("Cleaning"),
    ExpenseCategory.lifts: N_("Lifts"),
    ExpenseCategory.roof_and_repairs: N_("Roof and repairs"),
    ExpenseCategory.common_utilities: N_("Utilities of common areas"),
    ExpenseCategory.staff: N_("Staff"),
    ExpenseCategory.materials: N_("Materials"),
    ExpenseCategory.capital_repair: N_("Capital repair"),
    ExpenseCategory.other: N_("Other"),
}


def category_label(category: str) -> str:
    """The English source label of a category (translate it with the reader's catalog)."""
    return CATEGORIES.get(category, category)

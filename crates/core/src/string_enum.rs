//! One macro for every enum that is stored or sent as text (states, kinds, roles, codes): its
//! text form, its parser and `Display` come from one table, so a new variant cannot be
//! forgotten in one of them and every branch on it stays an exhaustive `match`.

/// `string_enum!(Ty { Variant => "text", … })` gives `Ty::ALL`, `as_str`, `parse` and `Display`;
/// `string_enum! { pub enum Ty { Variant => "text", … } }` also declares the enum.
macro_rules! string_enum {
    ($(#[$meta:meta])* $vis:vis enum $ty:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        $vis enum $ty {
            $($(#[$vmeta])* $variant),+
        }
        $crate::string_enum::string_enum!($ty { $($variant => $text),+ });
    };
    ($ty:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $text),+ }
            }

            pub fn parse(text: &str) -> Option<$ty> {
                match text { $($text => Some($ty::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use string_enum;
